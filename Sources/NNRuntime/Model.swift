// The runtime's model object: one or more compiled member networks and a voting rule, immutable
// after construction and safe to share across threads. Inference lives in Inference.swift; the C
// ABI (CAPI.swift) wraps this type.

import NNKernels
import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a compiled layer computes, with its per-example shapes.
enum LayerOperation: Sendable {
    /// z = W (keep x) + b for x (inFeatures) flattened; bias (outFeatures). The layer's `weights`
    /// hold keep W, packed at load for `sgemmPackedB` (W (outFeatures, inFeatures) transposed),
    /// where keep is 1 - dropout for a layer trained with dropout (network3's inference scaling)
    /// and 1 otherwise.
    case dense(inFeatures: Int, outFeatures: Int)
    /// Valid, stride-1 convolution: input (channels, height, width), weights (maps, channels,
    /// kernelHeight, kernelWidth), bias (maps), output (maps, height-KH+1, width-KW+1).
    case conv2d(channels: Int, height: Int, width: Int, maps: Int, kernelHeight: Int, kernelWidth: Int)
    /// Max over non-overlapping windows: input (channels, height, width), output (channels,
    /// height/poolHeight, width/poolWidth).
    case maxPool2d(channels: Int, height: Int, width: Int, poolHeight: Int, poolWidth: Int)
}

/// One layer ready to run: its operation, then `activation` over its `outCount` outputs.
struct CompiledLayer: Sendable {
    let operation: LayerOperation
    let activation: ActivationFunction
    /// Floats per example in and out.
    let inCount: Int
    let outCount: Int
    /// Dense: packed as `LayerOperation.dense` says; conv (maps, channels, KH, KW); empty for pooling.
    let weights: [Float]
    /// Dense (outFeatures) or conv (maps); empty for pooling.
    let bias: [Float]
    /// A convolution computed by Winograd's F(2x2, 5x5): its weights transformed and packed at
    /// load (`winogradPackWeights`); empty for every other layer.
    var winograd: [Float] = []
}

/// Input channels from which a 5x5 convolution goes through Winograd's F(2x2, 5x5) rather than
/// the direct product: below this (a first layer reading one image), the transforms cost more
/// than the multiply-adds they save.
let winogradMinimumChannels = 4

/// A description of one layer of a loaded network, for introspection (`nnrt_model_layer_info`).
public struct LayerInfo: Sendable, Equatable {
    /// The layer kind (dense, conv2d, max_pool2d).
    public let kind: LayerKind
    /// The activation applied to the layer's outputs.
    public let activation: Activation
    /// The layer's name in the model file, e.g. "conv1".
    public let name: String
    /// A readable one-line description, e.g.
    /// "conv2d 'conv1' [1,28,28] -> [20,24,24], 5x5 kernels, linear".
    public let summary: String

    init(_ layer: Layer) {
        kind = layer.kind
        activation = layer.activation
        name = layer.name
        func shape(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ",") + "]" }
        var text = "\(layer.kind.name) '\(layer.name)' \(shape(layer.inputShape)) -> \(shape(layer.outputShape))"
        switch layer.kind {
        case .dense:
            text += ", \(layer.activation.name)"
            if layer.dropout > 0 { text += ", dropout \(layer.dropout) (inputs scaled by \(1 - layer.dropout))" }
        case .conv2d:
            let w = layer.weights.shape
            text += ", \(w.count == 4 ? w[2] : 0)x\(w.count == 4 ? w[3] : 0) kernels, \(layer.activation.name)"
        case .maxPool2d:
            let p = layer.poolShape
            text += ", \(p.count == 2 ? p[0] : 0)x\(p.count == 2 ? p[1] : 0) max-pooling, \(layer.activation.name)"
        }
        summary = text
    }
}

/// One validated feed-forward network, ready to run. Immutable; shared (by reference) between the
/// models and ensembles that contain it.
public final class CompiledNetwork: Sendable {
    /// The network's name from the model file.
    public let name: String
    /// Floats per input example.
    public let inputSize: Int
    /// Outputs per example (the number of classes).
    public let outputSize: Int
    /// How raw 8-bit pixels are scaled for this network.
    public let input: InputContract
    /// One description per layer, input side first.
    public let layerInfo: [LayerInfo]
    let layers: [CompiledLayer]
    /// The widest layer output but those of convolutions fused with their pooling, which sizes the
    /// two ping-pong activation buffers (floats per example).
    let maxWidth: Int
    /// The largest input of a dense layer: the depth of its matrix product, which sizes the
    /// product's scratch (`gemmScratchCount`; 0 without dense layers).
    let maxGEMMDepth: Int
    /// Floats of im2col scratch the largest convolution needs (independent of the batch; 0 without
    /// convolutions).
    let convScratch: Int
    /// Multiply-adds per example (dense and convolution layers), which sizes a session's split of
    /// a batch between threads.
    let multiplyAdds: Int
    /// Per layer: a convolution whose max-pooling layer follows, run together a few examples at a
    /// time (see `forward`).
    let poolsNext: [Bool]
    /// Floats of scratch those fused pairs need (one chunk of convolution output; 0 if none).
    let fusedScratch: Int

    /// Compiles a network; it must have passed `validateModel` (`Model.init(file:)` checks), but
    /// every shape used for memory is checked again here, so nothing traps on any input.
    init(_ n: NetworkModel) throws(ModelError) {
        guard !n.layers.isEmpty else { throw ModelError(.badModel, "network '\(n.name)' has no layers") }
        name = n.name
        input = n.input
        var compiled: [CompiledLayer] = []
        var scratch = 0, gemmDepth = 0
        for (index, layer) in n.layers.enumerated() {
            let what = "layer \(index + 1) '\(layer.name)'"
            guard let f = ActivationFunction(rawValue: layer.activation.rawValue) else {
                throw ModelError(.unsupported, "\(what): activation \(layer.activation.name) is not supported")
            }
            guard let inCount = elementCount(layer.inputShape), let outCount = elementCount(layer.outputShape) else {
                throw ModelError(.badModel, "\(what): shapes \(layer.inputShape) -> \(layer.outputShape) are not valid")
            }
            let operation: LayerOperation
            switch layer.kind {
            case .dense:
                let (weightCount, overflow) = inCount.multipliedReportingOverflow(by: outCount)
                guard !overflow, layer.weights.data.count == weightCount, layer.bias.data.count == outCount else {
                    throw ModelError(.badModel, "\(what): tensors do not match the shapes")
                }
                let kernels = Kernels.active
                let packedCount = kernels.packedBCount(k: inCount, n: outCount)
                guard packedCount < Int.max / MemoryLayout<Float>.stride else {
                    throw ModelError(.outOfMemory, "\(what): the packed weights do not fit in memory")
                }
                let keep: Float = layer.dropout > 0 ? 1 - layer.dropout : 1
                var scaled = layer.weights.data
                if keep != 1 { for i in scaled.indices { scaled[i] *= keep } }
                let packed = [Float](unsafeUninitializedCapacity: packedCount) { buffer, count in
                    scaled.withUnsafeBufferPointer { w in
                        if let w = w.baseAddress, let out = buffer.baseAddress {
                            kernels.packGEMMB(transposed: true, b: w, ldb: inCount, k: inCount, n: outCount, into: out)
                        }
                    }
                    count = packedCount
                }
                gemmDepth = max(gemmDepth, inCount)
                operation = .dense(inFeatures: inCount, outFeatures: outCount)
                compiled.append(CompiledLayer(operation: operation, activation: f, inCount: inCount, outCount: outCount,
                                              weights: packed, bias: layer.bias.data))
                continue
            case .conv2d:
                let w = layer.weights.shape
                guard layer.inputShape.count == 3, w.count == 4, layer.bias.data.count == w[0],
                      let wCount = elementCount(w), layer.weights.data.count == wCount else {
                    throw ModelError(.badModel, "\(what): tensors do not match the shapes")
                }
                let (c, h, wd) = (layer.inputShape[0], layer.inputShape[1], layer.inputShape[2])
                let needed = conv2dScratchCount(batch: 1, channels: c, height: h, width: wd,
                                                maps: w[0], kernelHeight: w[2], kernelWidth: w[3])
                guard needed > 0, needed < Int.max / MemoryLayout<Float>.stride else {
                    throw ModelError(.outOfMemory, "\(what): the convolution's scratch memory does not fit in memory")
                }
                scratch = max(scratch, needed)
                operation = .conv2d(channels: c, height: h, width: wd, maps: w[0], kernelHeight: w[2], kernelWidth: w[3])
                let kernels = Kernels.active
                if c >= winogradMinimumChannels, f != .softmax,
                   kernels.winogradSupports(channels: c, height: h, width: wd, maps: w[0], kernelHeight: w[2], kernelWidth: w[3]) {
                    let count = kernels.winogradWeightsCount(maps: w[0], channels: c)
                    let needed = kernels.winogradScratchCount(channels: c, height: h, width: wd, maps: w[0])
                    guard count < Int.max / MemoryLayout<Float>.stride, needed < Int.max / MemoryLayout<Float>.stride else {
                        throw ModelError(.outOfMemory, "\(what): the convolution's transformed weights do not fit in memory")
                    }
                    scratch = max(scratch, needed)
                    var layer = CompiledLayer(operation: operation, activation: f, inCount: inCount, outCount: outCount,
                                              weights: layer.weights.data, bias: layer.bias.data)
                    let maps = w[0]
                    layer.winograd = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                        layer.weights.withUnsafeBufferPointer { weights in
                            if let weights = weights.baseAddress, let out = buffer.baseAddress {
                                kernels.winogradPackWeights(weights: weights, maps: maps, channels: c, into: out)
                            }
                        }
                        initialized = count
                    }
                    compiled.append(layer)
                    continue
                }
            case .maxPool2d:
                guard layer.inputShape.count == 3, layer.poolShape.count == 2 else {
                    throw ModelError(.badModel, "\(what): shapes do not describe a pooling layer")
                }
                operation = .maxPool2d(channels: layer.inputShape[0], height: layer.inputShape[1], width: layer.inputShape[2],
                                       poolHeight: layer.poolShape[0], poolWidth: layer.poolShape[1])
            }
            compiled.append(CompiledLayer(operation: operation, activation: f, inCount: inCount, outCount: outCount,
                                          weights: layer.weights.data, bias: layer.bias.data))
        }
        layers = compiled
        layerInfo = n.layers.map(LayerInfo.init)
        inputSize = compiled[0].inCount
        outputSize = compiled[compiled.count - 1].outCount
        maxGEMMDepth = gemmDepth
        convScratch = scratch
        var pools = [Bool](repeating: false, count: compiled.count)
        var fused = 0
        for i in compiled.indices.dropLast() {
            if case let .conv2d(_, height, width, maps, kernelHeight, kernelWidth) = compiled[i].operation,
               case let .maxPool2d(channels, poolInHeight, poolInWidth, _, _) = compiled[i + 1].operation,
               channels == maps, poolInHeight == height - kernelHeight + 1, poolInWidth == width - kernelWidth + 1,
               compiled[i + 1].inCount == compiled[i].outCount {
                pools[i] = true
                fused = max(fused, fusedChunkRows(compiled[i].outCount) * compiled[i].outCount)
            }
        }
        poolsNext = pools
        fusedScratch = fused
        // A fused convolution's output goes to the fused scratch, not to the ping-pong buffers.
        maxWidth = compiled.indices.reduce(0) { pools[$1] ? $0 : max($0, compiled[$1].outCount) }
        multiplyAdds = compiled.reduce(0) { total, layer in
            switch layer.operation {
            case let .dense(inFeatures, outFeatures):
                return total &+ inFeatures &* outFeatures
            case let .conv2d(channels, _, _, _, kernelHeight, kernelWidth):
                return total &+ layer.outCount &* channels &* kernelHeight &* kernelWidth   // outCount = maps * OH * OW
            case .maxPool2d:
                return total
            }
        }
    }

    /// Runs `rows` examples (input is (rows, inputSize)) through the network, ping-ponging between
    /// `a` and `b` (each at least rows * maxWidth floats). `gemmScratch` holds at least
    /// `gemmScratchCount(m: rows, k: maxGEMMDepth)` floats, and `convScratch` at
    /// least `self.convScratch` floats, `fusedScratch` at least `self.fusedScratch` (any of them
    /// may be nil when the network needs none). Returns the buffer holding the (rows, outputSize)
    /// result. Allocates nothing.
    ///
    /// A convolution followed by max-pooling runs `fusedChunkRows` examples at a time through
    /// both (and their activations), so that its output, 4x the pooled size, is pooled while it is
    /// still in the core's cache instead of going through memory for the whole block. Each example
    /// is computed exactly as layer by layer, bit for bit.
    ///
    /// With `split`, each convolution big enough (with its pooling and activations) runs its output
    /// maps in parts on the split's threads; each map is still computed exactly as on one thread.
    func forward(_ input: UnsafePointer<Float>, rows: Int,
                 _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                 gemmScratch: UnsafeMutablePointer<Float>?, convScratch: UnsafeMutablePointer<Float>?,
                 fusedScratch: UnsafeMutablePointer<Float>?, split: MapSplit? = nil) -> UnsafeMutablePointer<Float> {
        let kernels = Kernels.active
        var current = UnsafePointer(input)     // (rows, layer.inCount)
        var target = a                         // (rows, layer.outCount)
        var other = b
        var index = 0
        while index < layers.count {
            let layer = layers[index]
            index += 1
            if poolsNext[index - 1] {
                // This convolution's output does not fit the ping-pong buffers (`maxWidth`): it
                // must go through the fused scratch, which `run` always provides.
                let pool = layers[index]
                index += 1
                guard let fusedScratch, let convScratch, let conv = ConvStep(layer), let pooling = PoolStep(pool) else {
                    current = UnsafePointer(target)    // unreachable; stays within the buffers
                    swap(&target, &other)
                    continue
                }
                let chunk = fusedChunkRows(layer.outCount)
                var r = 0
                while r < rows {
                    let n = min(chunk, rows &- r)
                    conv.run(kernels, current + r &* layer.inCount, rows: n, output: fusedScratch, scratch: convScratch,
                             pool: pooling, pooled: target + r &* pool.outCount, split: split)
                    r &+= n
                }
                current = UnsafePointer(target)
                swap(&target, &other)
                continue
            }
            if let conv = ConvStep(layer) {
                if let convScratch {    // always: run provides it
                    conv.run(kernels, current, rows: rows, output: target, scratch: convScratch, pool: nil,
                             pooled: target, split: split)
                }
                current = UnsafePointer(target)
                swap(&target, &other)
                continue
            }
            layer.weights.withUnsafeBufferPointer { w in
                layer.bias.withUnsafeBufferPointer { bias in
                    switch layer.operation {
                    case let .dense(inFeatures, outFeatures):
                        // Validation guarantees a bias of (out); the weights were packed at load.
                        guard let w = w.baseAddress, let bias = bias.baseAddress, let gemmScratch else { return }
                        for r in 0..<rows { (target + r &* outFeatures).update(from: bias, count: outFeatures) }
                        // Inputs that are mostly zeros (the blank page around a digit) take the
                        // product that skips them; both give the same values.
                        let sparse = kernels.zeroSkippingPays(m: rows, n: outFeatures, k: inFeatures, a: current,
                                                              lda: inFeatures)
                        let x = current, y = target
                        func product(_ columns: Range<Int>, _ scratch: UnsafeMutablePointer<Float>) {
                            if sparse {
                                kernels.sgemmPackedBSparseA(m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                                                            packedB: w, c: y, ldc: outFeatures, scratch: scratch,
                                                            columns: columns)
                            } else {
                                kernels.sgemmPackedB(m: rows, n: outFeatures, k: inFeatures, alpha: 1, a: x, lda: inFeatures,
                                                     packedB: w, beta: 1, c: y, ldc: outFeatures, scratch: scratch,
                                                     columns: columns)
                            }
                        }
                        // With a split (fewer examples than threads), a large layer's columns in
                        // parts, whole micro-panels each: every element is computed as in one call.
                        let panelWidth = kernels.gemmPanelWidth
                        let panels = (outFeatures &+ panelWidth &- 1) / panelWidth
                        let parts = split?.denseParts(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                                                      panels: panels) ?? 1
                        if let split, parts > 1 {
                            split.share(panels, parts: parts, callerScratch: gemmScratch) { range, scratch in
                                product(range.lowerBound &* panelWidth..<min(outFeatures, range.upperBound &* panelWidth),
                                        scratch)
                            }
                        } else {
                            product(0..<outFeatures, gemmScratch)
                        }
                    case .conv2d:
                        break   // run above
                    case let .maxPool2d(channels, height, width, poolHeight, poolWidth):
                        kernels.maxPool2dForward(input: current, batch: rows, channels: channels, height: height, width: width,
                                                 poolHeight: poolHeight, poolWidth: poolWidth, output: target, argmax: nil)
                    }
                }
            }
            kernels.activationForward(layer.activation, target, rows: rows, width: layer.outCount)
            current = UnsafePointer(target)
            swap(&target, &other)
        }
        return UnsafeMutablePointer(mutating: current)
    }
}

/// Spreads one example's convolutions over a session's threads, for batches too small to split
/// by rows (one image on a two-thread session): each part computes a range of the layer's
/// output maps, then pools and activates those maps. A map's values depend only on its own
/// weights and the layer's input, and the kernels sum each element in an order that does not
/// depend on the other rows of the product (`sgemmPackedB`), so the results equal one thread's
/// bit for bit.
struct MapSplit {
    let pool: WorkerPool
    /// Threads available, the calling thread included (at least 2).
    let threads: Int
    /// Scratch of parts 1..<threads (part 0 uses the caller's), each at least
    /// `CompiledNetwork.convScratch` floats and `gemmScratchCount(m: rows, k: maxGEMMDepth)`.
    let scratch: UnsafePointer<UnsafeMutablePointer<Float>>
    /// Multiply-adds below which a part is not worth a thread.
    let minimumWork: Int
    /// The default `minimumWork`: about 2 microseconds of work, against a hand-off to a waiting
    /// worker of about one.
    static let defaultMinimumWork = 100_000

    /// How many parts a layer of `work` multiply-adds over `maps` maps runs in.
    func parts(work: Int, maps: Int) -> Int { max(1, min(threads, maps, work / max(1, minimumWork))) }

    /// Runs body(range, scratch) over 0..<items in `parts` contiguous chunks (fewer if items are
    /// fewer), which the threads (the calling one, with `callerScratch`, and workers, with
    /// theirs) take as they go: a thread that is late (its core busy with something else, or
    /// waking) leaves its chunk to the others instead of holding up the layer. (Two chunks per
    /// thread made the conv net's 2-thread batch-1 call 20-30% slower: each kernel call then
    /// covers fewer maps, and more of them partial blocks.)
    func share(_ items: Int, parts: Int, callerScratch: UnsafeMutablePointer<Float>,
               _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let chunks = min(items, parts)
        pool.share(chunks: chunks, participants: parts) { c, k in
            body((items &* c / chunks)..<(items &* (c &+ 1) / chunks), k == 0 ? callerScratch : scratch[k &- 1])
        }
    }

    /// How many parts a dense layer's product over `rows` (fewer than the threads) runs in, split
    /// by its `panels` micro-panels of columns. Each multiply-add there reads its own weight
    /// (from L2 or memory), about four times the time of one of a convolution's, so the layer
    /// counts four times its multiply-adds: the book's 640 x 100 hidden layer (about 3.5
    /// microseconds for one image) splits in two.
    func denseParts(rows: Int, inFeatures: Int, outFeatures: Int, panels: Int) -> Int {
        let (work, overflow) = (rows &* 4).multipliedReportingOverflow(by: inFeatures &* outFeatures)
        return parts(work: overflow ? Int.max : work, maps: panels)
    }
}

/// A max-pooling layer run on the output of the convolution before it (`ConvStep.run`), one
/// channel per map; height and width are the convolution's output's.
struct PoolStep {
    let layer: CompiledLayer
    let height: Int, width: Int, poolHeight: Int, poolWidth: Int

    /// nil unless `layer` is a max-pooling layer.
    init?(_ layer: CompiledLayer) {
        guard case let .maxPool2d(_, height, width, poolHeight, poolWidth) = layer.operation else { return nil }
        self.layer = layer
        (self.height, self.width, self.poolHeight, self.poolWidth) = (height, width, poolHeight, poolWidth)
    }
}

/// A convolution layer, its activation, and optionally the max-pooling that follows with its own.
struct ConvStep {
    let layer: CompiledLayer
    let channels: Int, height: Int, width: Int, maps: Int, kernelHeight: Int, kernelWidth: Int

    /// nil unless `layer` is a convolution.
    init?(_ layer: CompiledLayer) {
        guard case let .conv2d(channels, height, width, maps, kernelHeight, kernelWidth) = layer.operation else {
            return nil
        }
        self.layer = layer
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.maps, self.kernelHeight, self.kernelWidth) = (maps, kernelHeight, kernelWidth)
    }

    /// `rows` examples: output (rows, layer.outCount) = the activated convolution of input (rows,
    /// layer.inCount); with `pool`, pooled (rows, pool.layer.outCount) = its activated pooling.
    /// With a split and enough work, maps in parts on its threads, one example at a time.
    func run(_ kernels: any KernelSet.Type, _ input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutablePointer<Float>, pool: PoolStep?, pooled: UnsafeMutablePointer<Float>,
             split: MapSplit?) {
        if !layer.winograd.isEmpty {
            runWinograd(kernels, input, rows: rows, output: output, scratch: scratch, pool: pool, pooled: pooled,
                        split: split)
            return
        }
        let (work, overflow) = layer.outCount.multipliedReportingOverflow(by: rows &* channels &* kernelHeight &* kernelWidth)
        let parts = split?.parts(work: overflow ? Int.max : work, maps: maps) ?? 1     // work: multiply-adds
        guard let split, parts > 1, layer.activation != .softmax, pool?.layer.activation != .softmax else {
            mapRange(kernels, input, rows: rows, 0, maps, output: output, scratch: scratch, pool: pool, pooled: pooled,
                     stride: false)
            return
        }
        split.share(maps, parts: parts, callerScratch: scratch) { range, scratch in
            mapRange(kernels, input, rows: rows, range.lowerBound, range.upperBound, output: output,
                     scratch: scratch, pool: pool, pooled: pooled, stride: true)
        }
    }

    /// `run` for a convolution compiled for Winograd's F(2x2, 5x5) (`CompiledLayer.winograd`): a
    /// 2x2 max-pooling is taken from each 2x2 tile as it is computed (pooled written, output
    /// untouched); another pooling runs after, on output. With a split, one example at a time:
    /// the threads transform ranges of its channels into the calling thread's scratch, then each
    /// computes a range of maps from it. A map's values do not depend on the range or the thread.
    private func runWinograd(_ kernels: any KernelSet.Type, _ input: UnsafePointer<Float>, rows: Int,
                             output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                             pool: PoolStep?, pooled: UnsafeMutablePointer<Float>, split: MapSplit?) {
        let pool2x2 = pool.map { $0.poolHeight == 2 && $0.poolWidth == 2 } ?? false
        let target = pool2x2 ? pooled : output
        let targetCount = pool2x2 ? pool?.layer.outCount ?? 0 : layer.outCount
        // 36 multiply-adds per 2x2 tile, channel and map.
        let (work, overflow) = (layer.outCount / 4).multipliedReportingOverflow(by: rows &* channels &* 36)
        let parts = split?.parts(work: overflow ? Int.max : work, maps: maps) ?? 1
        layer.winograd.withUnsafeBufferPointer { u in
            layer.bias.withUnsafeBufferPointer { bias in
                guard let u = u.baseAddress, let bias = bias.baseAddress else { return }
                guard let split, parts > 1 else {
                    kernels.winogradConvForward(input: input, transformed: nil, batch: rows, channels: channels,
                                                height: height, width: width, packedWeights: u, bias: bias, maps: maps,
                                                mapRange: 0..<maps, activation: layer.activation, pool2x2: pool2x2,
                                                output: target, scratch: scratch)
                    return
                }
                let transformed = kernels.winogradTransformed(scratch: scratch)
                for r in 0..<rows {
                    let x = input + r &* layer.inCount
                    // The threads transform ranges of channels, then compute ranges of maps.
                    split.share(channels, parts: min(split.threads, channels), callerScratch: scratch) { range, scratch in
                        kernels.winogradTransformInput(input: x, channels: channels, height: height, width: width,
                                                       channelRange: range, into: transformed, scratch: scratch)
                    }
                    split.share(maps, parts: parts, callerScratch: scratch) { range, scratch in
                        kernels.winogradConvForward(input: x, transformed: UnsafePointer(transformed), batch: 1, channels: channels,
                                                    height: height, width: width, packedWeights: u, bias: bias,
                                                    maps: maps, mapRange: range, activation: layer.activation, pool2x2: pool2x2,
                                                    output: target + r &* targetCount, scratch: scratch)
                    }
                }
            }
        }
        guard let pool else { return }
        if !pool2x2 {
            kernels.maxPool2dForward(input: output, batch: rows, channels: maps, height: pool.height, width: pool.width,
                                     poolHeight: pool.poolHeight, poolWidth: pool.poolWidth, output: pooled, argmax: nil)
        }
        kernels.activationForward(pool.layer.activation, pooled, rows: rows, width: pool.layer.outCount)
    }

    /// Maps m0..<m1 of every example; `stride`: one example per kernel call (the maps' outputs
    /// are not contiguous across examples), else all examples in one call (m0..<m1 is all maps).
    private func mapRange(_ kernels: any KernelSet.Type, _ input: UnsafePointer<Float>, rows: Int, _ m0: Int, _ m1: Int,
                          output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                          pool: PoolStep?, pooled: UnsafeMutablePointer<Float>, stride: Bool) {
        let plane = layer.outCount / maps, count = m1 &- m0
        let pooledPlane = pool.map { $0.layer.outCount / maps } ?? 0
        let calls = stride ? rows : 1, batch = stride ? 1 : rows
        layer.weights.withUnsafeBufferPointer { w in
            layer.bias.withUnsafeBufferPointer { bias in
                guard let w = w.baseAddress, let bias = bias.baseAddress else { return }
                for r in 0..<calls {
                    let out = output + (r &* layer.outCount &+ m0 &* plane)
                    kernels.conv2dForward(input: input + r &* layer.inCount, batch: batch, channels: channels,
                                          height: height, width: width,
                                          weights: w + m0 &* channels &* kernelHeight &* kernelWidth, bias: bias + m0,
                                          maps: count, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                          output: out, scratch: scratch)
                    kernels.activationForward(layer.activation, out, rows: batch, width: count &* plane)
                    guard let pool else { continue }
                    let p = pooled + (r &* pool.layer.outCount &+ m0 &* pooledPlane)
                    kernels.maxPool2dForward(input: out, batch: batch, channels: count, height: pool.height,
                                             width: pool.width, poolHeight: pool.poolHeight, poolWidth: pool.poolWidth,
                                             output: p, argmax: nil)
                    kernels.activationForward(pool.layer.activation, p, rows: batch, width: count &* pooledPlane)
                }
            }
        }
    }
}

/// How many examples a convolution fused with its pooling (`CompiledNetwork.forward`) runs at a
/// time: as many as keep its output within 64 KB, at least one.
func fusedChunkRows(_ convOutCount: Int) -> Int { max(1, (1 << 14) / max(1, convOutCount)) }

/// Product of positive dimensions, nil if empty, non-positive or overflowing.
private func elementCount(_ dims: [Int]) -> Int? {
    guard !dims.isEmpty else { return nil }
    var product = 1
    for d in dims {
        guard d > 0 else { return nil }
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        product = p
    }
    return product
}

/// A network (an ensemble of one) or a voting ensemble, loaded and ready for batched inference.
///
/// Immutable after construction: every method may be called from any number of threads at once.
/// Ensembles made with `init(ensembleOf:voting:)` share their members' weights.
public final class Model: Sendable {
    /// The member networks; one for a single network.
    public let members: [CompiledNetwork]
    /// How members combine. A single network uses `.meanProbability`, under which its
    /// predictions are its own.
    public let voting: VotingRule
    /// The network's or ensemble's name (empty for ensembles built at run time).
    public let name: String
    /// One label per class, e.g. "0" ... "9".
    public let classLabels: [String]
    /// The input contract of the first member (shape, pixel scaling, polarity).
    public let input: InputContract
    /// The format version of the file the model came from (0 for run-time ensembles).
    public let formatVersion: UInt32
    /// Who wrote the file (empty strings for run-time ensembles).
    public let producer: Producer
    /// The file's metadata entries, in file order.
    public let metadata: [(key: String, value: String)]
    /// NUL-terminated copies of the strings the C ABI hands out; they live as long as the model.
    let cStrings: CStrings

    /// Floats per input example.
    public var inputSize: Int { members[0].inputSize }
    /// Number of classes (outputs per example).
    public var classCount: Int { classLabels.count }

    /// Builds a runtime model from a model file (validated again here, so any `ModelFile` is safe).
    /// - Throws: `ModelError` from `validateModel`, or `.outOfMemory`.
    public convenience init(file: ModelFile) throws(ModelError) {
        try validateModel(file)
        let members: [CompiledNetwork]
        let voting: VotingRule
        let name: String
        switch file.body {
        case .network(let n):
            members = [try CompiledNetwork(n)]
            voting = .meanProbability
            name = n.name
        case .ensemble(let e):
            var list: [CompiledNetwork] = []
            for m in e.members { list.append(try CompiledNetwork(m)) }
            members = list
            voting = e.voting
            name = e.name
        }
        try self.init(members: members, voting: voting, name: name, classLabels: file.networks[0].classLabels,
                      formatVersion: file.formatVersion, producer: file.producer, metadata: file.metadata)
    }

    /// Loads and validates the model file at `path`.
    /// - Throws: `.io`, `.badModel`, `.unsupportedVersion`, `.unsupported`,
    ///   `.outOfMemory`.
    public static func load(path: String) throws(ModelError) -> Model {
        try Model(file: readModelFile(path: path))
    }

    /// As `load(path:)` for a path given as a NUL-terminated C string, which need not be valid
    /// UTF-8 (file names on Linux are bytes).
    public static func load(cPath: UnsafePointer<CChar>) throws(ModelError) -> Model {
        try Model(file: readModelFile(cPath: cPath))
    }

    /// Loads and validates a model file held in memory (the bytes are not retained).
    public static func load(bytes: UnsafeRawBufferPointer) throws(ModelError) -> Model {
        try Model(file: decodeModel(bytes))
    }

    /// An ensemble of loaded models voting under `voting`. Members that are ensembles contribute
    /// their members (so one ensemble and a new rule re-votes it). The new model holds strong
    /// references to the member networks, so the given models may be released at any time.
    /// - Throws: `.invalidArgument` for no models, `.shapeMismatch` if they disagree on input size
    ///   or class labels.
    public convenience init(ensembleOf models: [Model], voting: VotingRule) throws(ModelError) {
        guard let first = models.first else {
            throw ModelError(.invalidArgument, "an ensemble needs at least one member model")
        }
        for (i, m) in models.enumerated().dropFirst() {
            if m.inputSize != first.inputSize {
                throw ModelError(.shapeMismatch,
                                 "ensemble member \(i + 1) '\(m.name)' takes \(m.inputSize) inputs, member 1 '\(first.name)' takes \(first.inputSize)")
            }
            if m.classLabels != first.classLabels {
                throw ModelError(.shapeMismatch,
                                 "ensemble member \(i + 1) '\(m.name)' has \(m.classCount) class labels \(m.classLabels.prefix(10)), member 1 '\(first.name)' has \(first.classCount) \(first.classLabels.prefix(10))")
            }
        }
        try self.init(members: models.flatMap(\.members), voting: voting, name: "", classLabels: first.classLabels,
                      formatVersion: 0, producer: Producer(name: "", version: ""), metadata: [])
    }

    private init(members: [CompiledNetwork], voting: VotingRule, name: String, classLabels: [String],
                 formatVersion: UInt32, producer: Producer, metadata: [(key: String, value: String)]) throws(ModelError) {
        self.members = members
        self.voting = voting
        self.name = name
        self.classLabels = classLabels
        self.input = members[0].input
        self.formatVersion = formatVersion
        self.producer = producer
        self.metadata = metadata
        self.cStrings = try CStrings(name: name, producer: producer, labels: classLabels, metadata: metadata,
                                     layers: members.map(\.layerInfo))
    }
}

/// Owns C copies of a model's strings for the C ABI; frees them when the model goes.
final class CStrings: @unchecked Sendable {
    // Written once in init, then only read: safe to share.
    private var owned: [UnsafeMutablePointer<CChar>] = []
    private(set) var name: UnsafePointer<CChar>
    private(set) var producerName: UnsafePointer<CChar>
    private(set) var producerVersion: UnsafePointer<CChar>
    private(set) var labels: [UnsafePointer<CChar>] = []
    private(set) var metadataKeys: [UnsafePointer<CChar>] = []
    private(set) var metadataValues: [UnsafePointer<CChar>] = []
    /// Per member, per layer: the layer's name and summary (`LayerInfo`).
    private(set) var layers: [[(name: UnsafePointer<CChar>, summary: UnsafePointer<CChar>)]] = []

    init(name: String, producer: Producer, labels: [String], metadata: [(key: String, value: String)],
         layers: [[LayerInfo]]) throws(ModelError) {
        var owned: [UnsafeMutablePointer<CChar>] = []
        func copy(_ s: String) throws(ModelError) -> UnsafePointer<CChar> {
            guard let p = strdup(s) else {
                for p in owned { free(p) }
                throw ModelError(.outOfMemory, "cannot allocate the model's strings")
            }
            owned.append(p)
            return UnsafePointer(p)
        }
        self.name = try copy(name)
        self.producerName = try copy(producer.name)
        self.producerVersion = try copy(producer.version)
        var l: [UnsafePointer<CChar>] = []
        for s in labels { l.append(try copy(s)) }
        var k: [UnsafePointer<CChar>] = []
        var v: [UnsafePointer<CChar>] = []
        for e in metadata {
            k.append(try copy(e.key))
            v.append(try copy(e.value))
        }
        var memberLayers: [[(name: UnsafePointer<CChar>, summary: UnsafePointer<CChar>)]] = []
        for member in layers {
            var list: [(name: UnsafePointer<CChar>, summary: UnsafePointer<CChar>)] = []
            for info in member { list.append((name: try copy(info.name), summary: try copy(info.summary))) }
            memberLayers.append(list)
        }
        self.layers = memberLayers
        self.labels = l
        self.metadataKeys = k
        self.metadataValues = v
        self.owned = owned
    }

    deinit {
        for p in owned { free(p) }
    }
}
