// The batched forward and backward passes over a resolved architecture (network3.py's layers),
// and the preallocated workspace they run in.
//
// Every stage s maps the previous stage's output a^{s-1} (the input for s = 0) to its own output
// a^s = f(z^s):
//   dense: z = W (a^{s-1} ⊙ m) + b, with m the dropout mask (0/1 in training, the constant 1 - p
//          at inference, network3's scaling), a^{s-1} flattened;
//   conv:  z = W * a^{s-1} + b (valid convolution, stride 1, b per map);
//   pool:  z = max over each window of a^{s-1}.
// Backpropagation runs the stages in reverse. The buffer grad(s) first receives ∂C/∂a^s from
// the stage above, then is turned in place into δ^s = ∂C/∂z^s = ∂C/∂a^s ⊙ f'(z^s) ((BP2)); the
// output stage gets δ^L from the cost directly ((BP1)). Each stage then adds its (BP3)/(BP4)
// gradients and writes ∂C/∂a^{s-1} into grad(s-1).

import Dispatch
import NNKernels
import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A network's stages, parameter layout and cost: everything the passes need but the
/// parameters themselves (so the hot loop can hold it while it mutates `parameters` in place,
/// without a copy-on-write copy).
struct Topology: Sendable {
    let stages: [Stage]
    let layout: [LayerLayout]
    let cost: CostKind
    /// For each stage, whether ∂C/∂(its input) is needed: some stage below it has parameters.
    let propagates: [Bool]
    /// For each entry of `layout`, whether it belongs to a dense stage.
    let layoutIsDense: [Bool]

    init(stages: [Stage], layout: [LayerLayout], cost: CostKind) {
        self.stages = stages
        self.layout = layout
        self.cost = cost
        var dense = [Bool](repeating: false, count: layout.count)
        for s in stages where s.kind == .dense {
            if let i = s.parameterIndex, i < dense.count { dense[i] = true }
        }
        layoutIsDense = dense
        var below = false
        var p: [Bool] = []
        for s in stages {
            p.append(below)
            if s.parameterIndex != nil { below = true }
        }
        propagates = p
    }

    var outputCount: Int { stages[stages.count - 1].outCount }

    /// Forward pass for `rows` examples already in `ws.input`. With `training`, dense layers with
    /// dropout use the masks in `ws.mask(s)` (see `drawDropoutMasks`); otherwise they scale their
    /// input by 1 - p. With `keepOutputZ`, the output stage's z is kept in `ws.outputZ` (the
    /// evaluation computes the cost from z).
    func forward(_ p: UnsafePointer<Float>, _ ws: Workspace, rows: Int, training: Bool, keepOutputZ: Bool) {
        let last = stages.count &- 1
        for s in 0...last {
            let st = stages[s]
            let x = ws.stageInput(s)       // (rows, st.inCount)
            let out = ws.output(s)         // (rows, st.outCount)
            switch st.kind {
            case .dense:
                guard let v = st.parameterIndex.map({ layout[$0] }) else { break }
                let xEff = dropoutInput(st, s, x, ws, rows: rows, training: training)
                Kernels.active.denseForward(input: xEff, batch: rows, inFeatures: v.inFeatures,
                             weights: p + v.weightOffset, bias: p + v.biasOffset, outFeatures: v.outFeatures,
                             output: out)
            case .conv:
                guard let v = st.parameterIndex.map({ layout[$0] }) else { break }
                Kernels.active.conv2dForward(input: x, batch: rows, channels: st.inShape[0], height: st.inShape[1], width: st.inShape[2],
                              weights: p + v.weightOffset, bias: p + v.biasOffset, maps: st.outShape[0],
                              kernelHeight: st.window, kernelWidth: st.window, output: out, scratch: ws.scratch)
            case .pool:
                Kernels.active.maxPool2dForward(input: x, batch: rows, channels: st.inShape[0], height: st.inShape[1], width: st.inShape[2],
                                 poolHeight: st.window, poolWidth: st.window, output: out, argmax: ws.argmax(s))
            }
            if keepOutputZ && s == last {
                ws.outputZ.update(from: out, count: rows &* st.outCount)
            }
            Kernels.active.activationForward(st.function, out, rows: rows, width: st.outCount)
        }
    }

    /// The input a dense stage multiplies by W: x itself without dropout, x ⊙ mask in training,
    /// (1 - p) x at inference (written into `ws.masked(s)`).
    @inline(__always)
    private func dropoutInput(_ st: Stage, _ s: Int, _ x: UnsafeMutablePointer<Float>, _ ws: Workspace,
                              rows: Int, training: Bool) -> UnsafeMutablePointer<Float> {
        guard st.dropout > 0 else { return x }
        let n = rows &* st.inCount
        let xm = ws.masked(s)              // (rows, st.inCount)
        if training {
            let m = ws.mask(s)             // (rows, st.inCount), 0 or 1
            for i in 0..<n { xm[i] = x[i] * m[i] }
        } else {
            let keep = 1 - st.dropout
            for i in 0..<n { xm[i] = x[i] * keep }
        }
        return xm
    }

    /// Draws fresh dropout masks for `rows` examples from `rng` (network3's `dropout_layer`: each
    /// input of a dense layer with dropout p is kept, as 1, with probability 1 - p, else 0).
    func drawDropoutMasks(_ ws: Workspace, rows: Int, rng: inout SeededGenerator) {
        for (s, st) in stages.enumerated() where st.dropout > 0 {
            let m = ws.mask(s)             // (rows, st.inCount)
            // Drop when a 53-bit uniform u falls below p: u < p  <=>  bits < p * 2^53.
            let threshold = UInt64(Double(st.dropout) * 0x1.0p53)
            for i in 0..<(rows &* st.inCount) {
                m[i] = (rng.next() >> 11) < threshold ? 0 : 1
            }
        }
    }

    /// Backpropagation for `rows` examples in `ws.input` with their labels in `ws.labels`: runs
    /// the forward pass, then adds ∂C_x/∂w and ∂C_x/∂b summed over the examples into `nabla`
    /// (same layout as `parameters`).
    ///
    /// With `skipDenseGradients`, dense stages add nothing to `nabla` (their part of it is left
    /// as it was) and only pass ∂C/∂(input) down: the caller updates them from δ^s, left in
    /// `ws.grad(s)`, and their inputs (`denseStepInput`) with `Kernels.active.denseUpdate`.
    func backprop(_ p: UnsafePointer<Float>, _ ws: Workspace, rows: Int, training: Bool,
                  nabla: UnsafeMutablePointer<Float>, skipDenseGradients: Bool = false) {
        forward(p, ws, rows: rows, training: training, keepOutputZ: false)
        let last = stages.count &- 1
        // (BP1) δ^L from the cost.
        cost.outputDelta(activations: ws.output(last), labels: ws.labels, rows: rows, width: stages[last].outCount,
                         activation: stages[last].activation, delta: ws.grad(last))
        var s = last
        while s >= 0 {
            let st = stages[s]
            let delta = ws.grad(s)          // (rows, st.outCount): ∂C/∂a^s, made δ^s here
            if s != last {
                // (BP2), second half: δ^s = ∂C/∂a^s ⊙ f'(z^s), f' expressed through a^s.
                Kernels.active.activationBackward(st.function, activations: ws.output(s), delta: delta, count: rows &* st.outCount)
            }
            let inputDelta: UnsafeMutablePointer<Float>? = propagates[s] ? ws.grad(s &- 1) : nil  // (rows, st.inCount)
            let x = ws.stageInput(s)
            switch st.kind {
            case .dense:
                guard let v = st.parameterIndex.map({ layout[$0] }) else { break }
                if skipDenseGradients {
                    // (BP2)'s first half wᵀδ only.
                    if let inputDelta {
                        Kernels.active.denseInputDelta(batch: rows, inFeatures: v.inFeatures, weights: p + v.weightOffset,
                                                       outFeatures: v.outFeatures, delta: delta, inputDelta: inputDelta)
                    }
                } else {
                    let xEff = st.dropout > 0 ? ws.masked(s) : x
                    // (BP3) ∂C/∂b = δ, (BP4) ∂C/∂w_jk = a_k δ_j, and (BP2)'s first half wᵀδ.
                    Kernels.active.denseBackward(input: xEff, batch: rows, inFeatures: v.inFeatures,
                                  weights: p + v.weightOffset, outFeatures: v.outFeatures, delta: delta,
                                  nablaW: nabla + v.weightOffset, nablaB: nabla + v.biasOffset, inputDelta: inputDelta)
                }
                if let inputDelta, st.dropout > 0 {
                    // A dropped input had no effect: ∂C/∂x = (wᵀδ) ⊙ m.
                    let n = rows &* st.inCount
                    if training {
                        let m = ws.mask(s)
                        for i in 0..<n { inputDelta[i] *= m[i] }
                    } else {
                        let keep = 1 - st.dropout
                        for i in 0..<n { inputDelta[i] *= keep }
                    }
                }
            case .conv:
                guard let v = st.parameterIndex.map({ layout[$0] }) else { break }
                Kernels.active.conv2dBackward(input: x, batch: rows, channels: st.inShape[0], height: st.inShape[1], width: st.inShape[2],
                               weights: p + v.weightOffset, maps: st.outShape[0],
                               kernelHeight: st.window, kernelWidth: st.window, delta: delta,
                               nablaW: nabla + v.weightOffset, nablaB: nabla + v.biasOffset,
                               inputDelta: inputDelta, scratch: ws.scratch)
            case .pool:
                if let inputDelta, let argmax = ws.argmax(s) {
                    // Only each window's maximum affected the output: δ goes there, 0 elsewhere.
                    Kernels.active.maxPool2dBackward(delta: delta, batch: rows, channels: st.inShape[0], height: st.inShape[1],
                                      width: st.inShape[2], poolHeight: st.window, poolWidth: st.window,
                                      argmax: argmax, inputDelta: inputDelta)
                }
            }
            if inputDelta == nil { break }
            s &-= 1
        }
    }
}

/// Preallocated scratch for batches of up to `batchCapacity` examples: the inputs, every
/// stage's output and gradient, dropout masks, pooling argmax indices, the convolutions' im2col
/// scratch, the output stage's z and the labels. One is made per training epoch or evaluation, so
/// the hot loop allocates nothing.
final class Workspace {
    let batchCapacity: Int
    let inputCount: Int
    private let storage: UnsafeMutablePointer<Float>
    private let indexStorage: UnsafeMutablePointer<Int32>
    private let outputOffsets: [Int]
    private let gradOffsets: [Int]
    private let maskOffsets: [Int]
    private let maskedOffsets: [Int]
    private let argmaxOffsets: [Int]
    /// The examples, (batchCapacity, inputCount).
    let input: UnsafeMutablePointer<Float>
    /// The output stage's z, (batchCapacity, outputCount).
    let outputZ: UnsafeMutablePointer<Float>
    /// im2col scratch shared by the convolutions (the largest any of them needs).
    let scratch: UnsafeMutablePointer<Float>
    /// (batchCapacity) class labels.
    let labels: UnsafeMutablePointer<UInt8>

    /// - Throws: `TrainerError.invalidArgument` if the buffers would not fit in memory's address range.
    init(stages: [Stage], inputCount: Int, batchCapacity: Int) throws(TrainerError) {
        let b = max(1, batchCapacity)
        self.batchCapacity = b
        self.inputCount = inputCount
        var offset = 0
        var overflow = false
        func take(_ count: Int) -> Int {
            let (n, o1) = count.multipliedReportingOverflow(by: b)
            let (end, o2) = offset.addingReportingOverflow(n)
            overflow = overflow || o1 || o2
            let start = offset
            offset = end
            return start
        }
        let inputOffset = take(inputCount)
        var outs: [Int] = [], grads: [Int] = [], masks: [Int] = [], maskeds: [Int] = []
        var scratchCount = 0
        for st in stages {
            outs.append(take(st.outCount))
            grads.append(take(st.outCount))
            masks.append(st.dropout > 0 ? take(st.inCount) : -1)
            maskeds.append(st.dropout > 0 ? take(st.inCount) : -1)
            if st.kind == .conv {
                scratchCount = max(scratchCount, conv2dScratchCount(
                    batch: b, channels: st.inShape[0], height: st.inShape[1], width: st.inShape[2],
                    maps: st.outShape[0], kernelHeight: st.window, kernelWidth: st.window))
            }
        }
        let zOffset = take(stages.last?.outCount ?? 0)
        let scratchOffset = offset
        let (total, o3) = offset.addingReportingOverflow(scratchCount)
        var indexCount = 0
        var argmaxes: [Int] = []
        for st in stages {
            argmaxes.append(st.kind == .pool ? indexCount : -1)
            if st.kind == .pool { indexCount = indexCount &+ st.outCount &* b }
        }
        guard !overflow, !o3, total < Int.max / 8 else {
            throw TrainerError(.invalidArgument, "a batch of \(b) needs more memory than can be addressed")
        }
        storage = .allocate(capacity: max(total, 1))
        storage.initialize(repeating: 0, count: max(total, 1))
        indexStorage = .allocate(capacity: max(indexCount, 1))
        indexStorage.initialize(repeating: 0, count: max(indexCount, 1))
        labels = .allocate(capacity: b)
        labels.initialize(repeating: 0, count: b)
        outputOffsets = outs
        gradOffsets = grads
        maskOffsets = masks
        maskedOffsets = maskeds
        argmaxOffsets = argmaxes
        input = storage + inputOffset
        outputZ = storage + zOffset
        scratch = storage + scratchOffset
    }

    deinit {
        storage.deallocate()
        indexStorage.deallocate()
        labels.deallocate()
    }

    /// Output a^s of stage s, (batchCapacity, outCount).
    @inline(__always) func output(_ s: Int) -> UnsafeMutablePointer<Float> { storage + outputOffsets[s] }
    /// The input of stage s: the examples for s = 0, else the previous stage's output.
    @inline(__always) func stageInput(_ s: Int) -> UnsafeMutablePointer<Float> { s == 0 ? input : output(s &- 1) }
    /// ∂C/∂a^s, then δ^s, of stage s, (batchCapacity, outCount).
    @inline(__always) func grad(_ s: Int) -> UnsafeMutablePointer<Float> { storage + gradOffsets[s] }
    /// The input dense stage s multiplied by its weights in the last training forward pass
    /// (masked when it has dropout), (batchCapacity, inCount).
    @inline(__always) func denseStepInput(_ s: Int, dropout: Bool) -> UnsafeMutablePointer<Float> {
        dropout ? masked(s) : stageInput(s)
    }
    /// Dropout mask of dense stage s, (batchCapacity, inCount); only for stages with dropout.
    @inline(__always) func mask(_ s: Int) -> UnsafeMutablePointer<Float> { storage + maskOffsets[s] }
    /// The masked (or scaled) input of dense stage s, (batchCapacity, inCount); only with dropout.
    @inline(__always) func masked(_ s: Int) -> UnsafeMutablePointer<Float> { storage + maskedOffsets[s] }
    /// Argmax indices of pool stage s, (batchCapacity, outCount); nil for other stages.
    @inline(__always) func argmax(_ s: Int) -> UnsafeMutablePointer<Int32>? {
        argmaxOffsets[s] < 0 ? nil : indexStorage + argmaxOffsets[s]
    }

    /// Copies the examples at `indices` (at most batchCapacity, each checked) into the input rows
    /// and labels.
    func gather(_ data: Dataset, _ indices: ArraySlice<Int>) throws(TrainerError) {
        guard indices.count <= batchCapacity else {
            throw TrainerError(.invalidArgument, "batch of \(indices.count) exceeds the workspace's \(batchCapacity)")
        }
        for i in indices where i < 0 || i >= data.count {
            throw TrainerError(.invalidArgument, "index \(i) out of range for dataset '\(data.name)' of \(data.count)")
        }
        gatherUnchecked(data, indices)
    }

    /// `gather` for indices already known to be in range.
    func gatherUnchecked(_ data: Dataset, _ indices: ArraySlice<Int>) {
        let n = inputCount
        let dst = input
        data.images.withUnsafeBufferPointer { src in
            data.labels.withUnsafeBufferPointer { lab in
                guard let s = src.baseAddress, let l = lab.baseAddress else { return }
                var r = 0
                for i in indices {
                    (dst + r &* n).update(from: s + i &* n, count: n)
                    labels[r] = l[i]
                    r &+= 1
                }
            }
        }
    }

    /// Copies examples start..<start+rows (contiguous, in range) into the input rows and labels.
    func gatherContiguous(_ data: Dataset, start: Int, rows: Int) {
        let n = inputCount
        data.images.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            input.update(from: s + start &* n, count: rows &* n)
        }
        data.labels.withUnsafeBufferPointer { lab in
            guard let l = lab.baseAddress else { return }
            labels.update(from: l + start, count: rows)
        }
    }
}

// MARK: Splitting a batch over two threads

extension Topology {
    /// Multiply-adds of one example's forward pass.
    var multiplyAddsPerExample: Int {
        var total = 0
        for st in stages {
            switch st.kind {
            case .dense: total = total &+ st.inCount &* st.outCount
            case .conv: total = total &+ st.outCount &* st.inShape[0] &* st.window &* st.window
            case .pool: break
            }
        }
        return total
    }

    /// How many parts a batch is split into, each with its own workspace and gradient arena, so
    /// two threads can share the work: 2 for networks with at least 250,000 multiply-adds per
    /// example (network3's convolutional nets, wide fully connected layers), 1 for the book's
    /// small MLPs, where a thread hand-off would cost more than it saves. It depends only on the
    /// architecture, never on the number of threads, so results are the same with one thread
    /// or two: the parts' gradients are always summed in the same order.
    var partCount: Int { multiplyAddsPerExample >= 250_000 ? 2 : 1 }
}

/// An unchecked Sendable wrapper for the pointers and reference types the parts of a batch
/// share; each part only writes its own workspace and gradient arena, and reads the parameters.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// Runs `body(part)` for part in 0..<parts, on up to `threads` threads (the caller's thread
/// included). Returns when all parts are done.
func runParts(_ parts: Int, threads: Int, _ body: (Int) -> Void) {
    if parts <= 1 || threads <= 1 {
        for k in 0..<parts { body(k) }
        return
    }
    withoutActuallyEscaping(body) { escapable in
        let shared = UncheckedSendable(value: escapable)
        DispatchQueue.concurrentPerform(iterations: parts) { k in shared.value(k) }
    }
}

/// The workspaces and gradient arenas of a batch split into `Topology.partCount` parts: part k
/// takes rows [k*m/parts, (k+1)*m/parts) of an m-row batch. One is made per epoch.
final class BatchParts {
    let topology: Topology
    let workspaces: [Workspace]
    /// One gradient arena per part, each (parameterCount), in the layout of the parameters. The
    /// sum of all parts ends up in `nabla[0]`.
    let nabla: [UnsafeMutablePointer<Float>]
    let parameterCount: Int
    /// Rows held by each part after `load`.
    private(set) var rows: [Int]
    /// The parameter ranges (offset, count) of the layers that are not dense: what
    /// `backprop(skipDenseGradients: true)` sums over the parts.
    private let nonDenseRanges: [(offset: Int, count: Int)]
    /// With two or more parts: a whole batch's dense-stage inputs and deltas, stacked from the
    /// parts for `applyFusedDenseStep`, every dense layer's at once ((batchCapacity, its input
    /// width) and (batchCapacity, its output width) from `stackedOffsets`); nil with one part.
    private let stackedInput: UnsafeMutablePointer<Float>?
    private let stackedDelta: UnsafeMutablePointer<Float>?
    /// The dense stages (index, stage), in order, and their offsets in the stacked buffers.
    private let denseStages: [(Int, Stage)]
    private let stackedOffsets: [(input: Int, delta: Int)]

    init(topology: Topology, inputCount: Int, batchCapacity: Int, parameterCount: Int) throws(TrainerError) {
        let parts = topology.partCount
        self.topology = topology
        self.parameterCount = parameterCount
        var ws: [Workspace] = []
        for _ in 0..<parts {
            ws.append(try Workspace(stages: topology.stages, inputCount: inputCount,
                                    batchCapacity: (batchCapacity + parts - 1) / parts))
        }
        workspaces = ws
        nabla = (0..<parts).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(parameterCount, 1))
            p.initialize(repeating: 0, count: max(parameterCount, 1))
            return p
        }
        rows = Array(repeating: 0, count: parts)
        var ranges: [(offset: Int, count: Int)] = []
        var dense: [(Int, Stage)] = []
        var offsets: [(input: Int, delta: Int)] = []
        var totalIn = 0, totalOut = 0
        let b = max(1, batchCapacity)
        for (s, st) in topology.stages.enumerated() {
            guard let index = st.parameterIndex else { continue }
            let lay = topology.layout[index]
            if st.kind == .dense {
                dense.append((s, st))
                // Dense layers are at most as wide as a stage's activations, which the
                // workspaces already hold for the same rows, so these sums cannot overflow.
                offsets.append((totalIn, totalOut))
                totalIn += b * lay.inFeatures
                totalOut += b * lay.outFeatures
            } else {
                ranges.append((lay.weightOffset, lay.weightCount))
                ranges.append((lay.biasOffset, lay.outFeatures))
            }
        }
        nonDenseRanges = ranges
        denseStages = dense
        stackedOffsets = offsets
        if parts > 1 {
            stackedInput = .allocate(capacity: max(1, totalIn))
            stackedInput?.initialize(repeating: 0, count: max(1, totalIn))
            stackedDelta = .allocate(capacity: max(1, totalOut))
            stackedDelta?.initialize(repeating: 0, count: max(1, totalOut))
        } else {
            stackedInput = nil
            stackedDelta = nil
        }
    }

    deinit {
        for p in nabla { p.deallocate() }
        stackedInput?.deallocate()
        stackedDelta?.deallocate()
    }

    /// Copies the examples at `indices` (in range) into the parts.
    func load(_ data: Dataset, _ indices: ArraySlice<Int>) {
        let m = indices.count
        let parts = workspaces.count
        let start = indices.startIndex
        for k in 0..<parts {
            let lo = k * m / parts, hi = (k + 1) * m / parts
            rows[k] = hi - lo
            workspaces[k].gatherUnchecked(data, indices[(start + lo) ..< (start + hi)])
        }
    }

    /// Draws the dropout masks of the loaded rows from `rng`, part after part.
    func drawDropoutMasks(rng: inout SeededGenerator) {
        for k in 0..<workspaces.count where rows[k] > 0 {
            topology.drawDropoutMasks(workspaces[k], rows: rows[k], rng: &rng)
        }
    }

    /// Backpropagation over every part (on up to `threads` threads), then the parts' gradients
    /// summed into `nabla[0]` in part order; the other arenas are left zero. `nabla[0]` must hold
    /// zeros (or a gradient to add to) on entry.
    ///
    /// With `skipDenseGradients`, the dense layers' gradients are neither computed nor summed
    /// (see `Topology.backprop`); `applyFusedDenseStep` then updates those layers.
    func backprop(_ p: UnsafePointer<Float>, training: Bool, threads: Int, skipDenseGradients: Bool = false) {
        let shared = UncheckedSendable(value: (self, p))
        runParts(workspaces.count, threads: threads) { k in
            let (me, p) = shared.value
            guard me.rows[k] > 0 else { return }
            me.topology.backprop(p, me.workspaces[k], rows: me.rows[k], training: training, nabla: me.nabla[k],
                                 skipDenseGradients: skipDenseGradients)
        }
        let total = nabla[0]
        for k in 1..<max(1, nabla.count) {
            let part = nabla[k]
            if skipDenseGradients {
                for range in nonDenseRanges {
                    let t = total + range.offset, q = part + range.offset
                    for i in 0..<range.count {
                        t[i] += q[i]
                        q[i] = 0
                    }
                }
            } else {
                for i in 0..<parameterCount {
                    total[i] += part[i]
                    part[i] = 0
                }
            }
        }
    }

    /// After `backprop(skipDenseGradients: true)` of a batch with its training forward pass:
    /// the SGD step of every dense layer fused with its weight gradient (`denseUpdate`):
    /// w → decay · w − step · Σ ∂C_x/∂w, b → b − step · Σ ∂C_x/∂b over the batch's rows, in row
    /// order across the parts (stacked first when the batch is split). The parameters must be
    /// the ones `backprop` ran with.
    ///
    /// A batch split into parts is updated on up to `threads` threads, each taking a block of
    /// every dense layer's output rows (from a multiple of 4): a weight's arithmetic depends only
    /// on its own row, so the result is bit-identical whatever the thread count.
    func applyFusedDenseStep(_ p: UnsafeMutablePointer<Float>, decay: Float, step: Float, threads: Int = 1) {
        var m = 0, filledParts = 0, firstFilled = 0
        for k in 0..<workspaces.count where rows[k] > 0 {
            if filledParts == 0 { firstFilled = k }
            filledParts += 1
            m += rows[k]
        }
        guard filledParts > 0 else { return }
        // Each dense layer's whole-batch input and delta: the part's own buffers, or stacked.
        var layers: [(lay: LayerLayout, input: UnsafePointer<Float>, delta: UnsafePointer<Float>)] = []
        layers.reserveCapacity(denseStages.count)
        for (s, st) in denseStages {
            guard let index = st.parameterIndex else { continue }
            let lay = topology.layout[index]
            if filledParts == 1 {
                let ws = workspaces[firstFilled]
                layers.append((lay, UnsafePointer(ws.denseStepInput(s, dropout: st.dropout > 0)), UnsafePointer(ws.grad(s))))
            } else if let stackedInput, let stackedDelta {
                let input = stackedInput + stackedOffsets[layers.count].input
                let delta = stackedDelta + stackedOffsets[layers.count].delta
                var r = 0
                for k in 0..<workspaces.count where rows[k] > 0 {
                    let ws = workspaces[k]
                    (input + r &* lay.inFeatures).update(from: ws.denseStepInput(s, dropout: st.dropout > 0),
                                                         count: rows[k] &* lay.inFeatures)
                    (delta + r &* lay.outFeatures).update(from: ws.grad(s), count: rows[k] &* lay.outFeatures)
                    r &+= rows[k]
                }
                layers.append((lay, UnsafePointer(input), UnsafePointer(delta)))
            }
        }
        // One thread unless the batch was split (a light network's step is too short to share).
        let blocks = filledParts > 1 ? max(1, min(threads, workspaces.count)) : 1
        let shared = UncheckedSendable(value: (layers, p))
        runParts(blocks, threads: blocks) { t in
            let (layers, p) = shared.value
            for (lay, input, delta) in layers {
                let out = lay.outFeatures
                // Rows [j0, j1) of this layer, block boundaries on multiples of 4.
                let j0 = t == 0 ? 0 : min(out, (t &* out / blocks) & ~3)
                let j1 = t == blocks &- 1 ? out : min(out, ((t &+ 1) &* out / blocks) & ~3)
                guard j1 > j0 else { continue }
                Kernels.active.denseUpdate(input: input, batch: m, inFeatures: lay.inFeatures, delta: delta + j0,
                                           outFeatures: j1 &- j0, deltaStride: out,
                                           weights: p + lay.weightOffset + j0 &* lay.inFeatures,
                                           bias: p + lay.biasOffset + j0, decay: decay, step: step)
            }
        }
    }
}
