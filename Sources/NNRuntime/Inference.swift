// Batched inference: runs every member network over blocks of examples with bounded scratch
// memory and combines the members' outputs under the model's voting rule.
//
// Voting (Include/nnrt.h, nnrt.proto):
// - mean probability: the combined output is the mean of the member outputs; the label is its
//   argmax, smallest index on ties. A single network is an ensemble of one under this rule, so its
//   outputs and labels are its own.
// - majority: each member votes for its argmax; the label with most votes wins; a tie goes to the
//   tied label with the largest output summed over all members, then to the smallest index. The
//   combined output is the fraction of members voting for each class.

import NNKernels
import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Examples per block: big enough to reuse each weight row from cache, small enough that the
/// scratch memory stays bounded whatever `count` is.
let blockRows = 256
/// Scratch floats per buffer that a block may use before it gets fewer rows.
let scratchBudget = 1 << 22

/// Labels and outputs of a prediction made through the array convenience API.
public struct Prediction: Sendable, Equatable {
    /// One predicted class index per example.
    public var labels: [Int32]
    /// classCount floats per example, row by row: the combined outputs under the voting rule.
    public var outputs: [Float]
}

extension Model {
    /// Predicts `count` examples of `inputSize` floats each, stored back to back in `inputs`.
    ///
    /// Writes `count` class indices into `labels` and `count * classCount` combined outputs into
    /// `outputs` (either may be nil, not both). Thread-safe; the scratch memory is per call.
    /// - Throws: `.invalidArgument` (count 0, nothing requested, sizes that overflow),
    ///   `.shapeMismatch` (inputs shorter than count * inputSize), `.bufferTooSmall` (with the
    ///   size needed; nothing is written then), `.outOfMemory`.
    public func predict(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                        labels: UnsafeMutableBufferPointer<Int32>?,
                        outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        _ = try checkInputs(inputs.count, count: count, what: "inputs", unit: "values")
        try checkCombined(count: count, labels: labels, outputs: outputs)
        guard let p = inputs.baseAddress else { throw ModelError(.invalidArgument, "inputs is NULL") }
        try run(.floats(p), count: count, labels: labels?.baseAddress, outputs: outputs?.baseAddress,
                memberLabels: nil, memberOutputs: nil, arena: ScratchArena())
    }

    /// As `predict(_:count:labels:outputs:)`, from raw 8-bit pixels that are scaled by each
    /// member's input contract (float = pixel * scale + offset).
    public func predict(pixels: UnsafeBufferPointer<UInt8>, count: Int,
                        labels: UnsafeMutableBufferPointer<Int32>?,
                        outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        _ = try checkInputs(pixels.count, count: count, what: "pixels", unit: "bytes")
        try checkCombined(count: count, labels: labels, outputs: outputs)
        guard let p = pixels.baseAddress else { throw ModelError(.invalidArgument, "pixels is NULL") }
        try run(.pixels(p), count: count, labels: labels?.baseAddress, outputs: outputs?.baseAddress,
                memberLabels: nil, memberOutputs: nil, arena: ScratchArena())
    }

    /// Each member's own predictions: `memberLabels` gets count * memberCount labels and
    /// `memberOutputs` count * memberCount * classCount floats, example-major
    /// ([example][member][class]). Either may be nil, not both. Thread-safe.
    public func predictMembers(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                               memberLabels: UnsafeMutableBufferPointer<Int32>?,
                               memberOutputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        _ = try checkInputs(inputs.count, count: count, what: "inputs", unit: "values")
        guard memberLabels != nil || memberOutputs != nil else {
            throw ModelError(.invalidArgument, "nothing requested: pass a member_labels or member_outputs buffer")
        }
        let (rows, o1) = count.multipliedReportingOverflow(by: members.count)
        guard !o1 else { throw ModelError(.invalidArgument, "count \(count) × \(members.count) members overflows") }
        if let memberLabels, memberLabels.count < rows {
            throw ModelError(.bufferTooSmall,
                             "member_labels holds \(memberLabels.count) values; \(rows) needed (\(count) examples × \(members.count) members)")
        }
        if let memberOutputs {
            let (needed, o2) = rows.multipliedReportingOverflow(by: classCount)
            guard !o2 else { throw ModelError(.invalidArgument, "count \(count) × members × classes overflows") }
            guard memberOutputs.count >= needed else {
                throw ModelError(.bufferTooSmall,
                                 "member_outputs holds \(memberOutputs.count) floats; \(needed) needed (\(count) examples × \(members.count) members × \(classCount) classes)")
            }
        }
        guard let p = inputs.baseAddress else { throw ModelError(.invalidArgument, "inputs is NULL") }
        try run(.floats(p), count: count, labels: nil, outputs: nil,
                memberLabels: memberLabels?.baseAddress, memberOutputs: memberOutputs?.baseAddress, arena: ScratchArena())
    }

    /// Predicts every example in `inputs` (whose length must be a multiple of `inputSize`).
    public func predict(_ inputs: [Float]) throws(ModelError) -> Prediction {
        try predictAll(inputs, unit: "values") { x, count, l, o throws(ModelError) in
            try predict(x, count: count, labels: l, outputs: o)
        }
    }

    /// Predicts every example in `pixels` (whose length must be a multiple of `inputSize`).
    public func predict(pixels: [UInt8]) throws(ModelError) -> Prediction {
        try predictAll(pixels, unit: "bytes") { x, count, l, o throws(ModelError) in
            try predict(pixels: x, count: count, labels: l, outputs: o)
        }
    }

    /// Runs `body` over all of `elements` into freshly allocated label and output arrays.
    private func predictAll<Element>(
        _ elements: [Element], unit: String,
        _ body: (UnsafeBufferPointer<Element>, Int, UnsafeMutableBufferPointer<Int32>,
                 UnsafeMutableBufferPointer<Float>) throws(ModelError) -> Void
    ) throws(ModelError) -> Prediction {
        let count = elements.count / inputSize
        guard count * inputSize == elements.count else {
            throw ModelError(.shapeMismatch, "\(elements.count) \(unit) are not a whole number of \(inputSize)-\(unit.dropLast()) examples")
        }
        var labels = [Int32](repeating: 0, count: count)
        var outputs = [Float](repeating: 0, count: count * classCount)
        var failure: ModelError?
        elements.withUnsafeBufferPointer { x in
            labels.withUnsafeMutableBufferPointer { l in
                outputs.withUnsafeMutableBufferPointer { o in
                    do throws(ModelError) { try body(x, count, l, o) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return Prediction(labels: labels, outputs: outputs)
    }

    // MARK: - Argument checks

    /// Checks count and the input buffer's length; returns count * inputSize.
    func checkInputs(_ length: Int, count: Int, what: String, unit: String) throws(ModelError) -> Int {
        guard count > 0 else { throw ModelError(.invalidArgument, "count is 0: there is nothing to predict") }
        let (needed, overflow) = count.multipliedReportingOverflow(by: inputSize)
        guard !overflow else {
            throw ModelError(.invalidArgument, "count \(count) × input size \(inputSize) overflows")
        }
        guard length >= needed else {
            throw ModelError(.shapeMismatch,
                             "\(what) hold \(length) \(unit); \(count) examples of \(inputSize) need \(needed)")
        }
        return needed
    }

    func checkCombined(count: Int, labels: UnsafeMutableBufferPointer<Int32>?,
                               outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        guard labels != nil || outputs != nil else {
            throw ModelError(.invalidArgument, "nothing requested: pass a labels or outputs buffer")
        }
        if let labels, labels.count < count {
            throw ModelError(.bufferTooSmall, "labels holds \(labels.count) values; \(count) needed (one per example)")
        }
        if let outputs {
            let (needed, overflow) = count.multipliedReportingOverflow(by: classCount)
            guard !overflow else { throw ModelError(.invalidArgument, "count \(count) × \(classCount) classes overflows") }
            guard outputs.count >= needed else {
                throw ModelError(.bufferTooSmall,
                                 "outputs holds \(outputs.count) floats; \(needed) needed (\(count) examples × \(classCount) classes)")
            }
        }
    }

    // MARK: - The engine

    enum Rows {
        case floats(UnsafePointer<Float>)   // (count, inputSize)
        case pixels(UnsafePointer<UInt8>)   // (count, inputSize)
    }

    /// Runs all members over `count` examples in blocks, with scratch memory from `arena` (reused
    /// if large enough). Arguments are already checked: every non-nil sink is large enough.
    func run(_ input: Rows, count: Int,
             labels: UnsafeMutablePointer<Int32>?, outputs: UnsafeMutablePointer<Float>?,
             memberLabels: UnsafeMutablePointer<Int32>?, memberOutputs: UnsafeMutablePointer<Float>?,
             arena scratch: ScratchArena, split: MapSplit? = nil) throws(ModelError) {
        let inputSize = self.inputSize
        let classes = classCount
        let memberCount = members.count
        let combined = labels != nil || outputs != nil
        let maxWidth = members.reduce(1) { max($0, $1.maxWidth) }
        let gemmDepth = members.reduce(0) { max($0, $1.maxGEMMDepth) }
        let convFloats = members.reduce(0) { max($0, $1.convScratch) }
        let fusedFloats = members.reduce(0) { max($0, $1.fusedScratch) }
        let widest = max(maxWidth, inputSize)
        let rowsPerBlock = max(1, min(blockRows, scratchBudget / widest, count))

        // Scratch, all sized for one block: two ping-pong activation buffers (rows, maxWidth),
        // the dense layers' packed input rows (gemmScratchCount), the convolutions' im2col matrix
        // (convFloats, independent of rows), one chunk of a convolution fused with its pooling
        // (fusedFloats, independent of rows), converted pixels (rows, inputSize), summed outputs
        // and votes (rows, classes).
        scratch.reset()
        let a = try scratch.floats(rowsPerBlock, maxWidth)
        let b = try scratch.floats(rowsPerBlock, maxWidth)
        let gemmFloats = Kernels.active.gemmScratchCount(m: rowsPerBlock, k: gemmDepth)
        let gemmScratch = gemmFloats > 0 ? try scratch.floats(1, gemmFloats) : nil
        let convScratch = convFloats > 0 ? try scratch.floats(1, convFloats) : nil
        let fusedScratch = fusedFloats > 0 ? try scratch.floats(1, fusedFloats) : nil
        var converted: UnsafeMutablePointer<Float>?
        if case .pixels = input { converted = try scratch.floats(rowsPerBlock, inputSize) }
        let sum = try scratch.floats(rowsPerBlock, classes)
        let votes = try scratch.floats(rowsPerBlock, classes)
        let majority = voting == .majority

        var start = 0
        while start < count {
            let rows = min(rowsPerBlock, count - start)
            let blockValues = rows * classes
            if combined {
                sum.update(repeating: 0, count: blockValues)
                votes.update(repeating: 0, count: blockValues)
            }
            var convertedWith: (scale: Float, offset: Float)?
            for (m, member) in members.enumerated() {
                let x: UnsafePointer<Float>
                switch input {
                case .floats(let p):
                    x = p + start * inputSize
                case .pixels(let p):
                    guard let converted else { throw ModelError(.internal, "no conversion buffer") }
                    let scale = member.input.scale, offset = member.input.offset
                    if convertedWith.map({ $0 != (scale, offset) }) ?? true {
                        let src = p + start * inputSize
                        for i in 0..<(rows * inputSize) { converted[i] = Float(src[i]) * scale + offset }
                        convertedWith = (scale, offset)
                    }
                    x = UnsafePointer(converted)
                }
                let out = member.forward(x, rows: rows, a, b, gemmScratch: gemmScratch, convScratch: convScratch,
                                         fusedScratch: fusedScratch, split: split)   // (rows, classes)
                for r in 0..<rows {
                    let row = out + r * classes
                    let example = start + r
                    let winner = argmax(row, classes)
                    if let memberLabels { memberLabels[example * memberCount + m] = Int32(winner) }
                    if let memberOutputs {
                        (memberOutputs + (example * memberCount + m) * classes).update(from: row, count: classes)
                    }
                    if combined {
                        let s = sum + r * classes
                        for c in 0..<classes { s[c] += row[c] }
                        if majority { votes[r * classes + winner] += 1 }
                    }
                }
            }
            if combined {
                let n = Float(memberCount)
                for r in 0..<rows {
                    let s = sum + r * classes
                    let v = votes + r * classes
                    let label: Int
                    if majority {
                        var best = 0
                        for c in 1..<max(classes, 1) where v[c] > v[best] || (v[c] == v[best] && s[c] > s[best]) {
                            best = c
                        }
                        label = best
                        if let outputs {
                            let o = outputs + (start + r) * classes
                            for c in 0..<classes { o[c] = v[c] / n }
                        }
                    } else {
                        for c in 0..<classes { s[c] /= n }
                        label = argmax(s, classes)
                        if let outputs { (outputs + (start + r) * classes).update(from: s, count: classes) }
                    }
                    labels?[start + r] = Int32(label)
                }
            }
            start += rows
        }
    }
}

/// Scratch buffers for `Model.run`, handed out in order and kept for the next run: a session's
/// arena is allocated once and grows only when a call needs more. Allocation failure is an error,
/// not a trap. Not thread-safe: one arena per thread.
final class ScratchArena {
    private var blocks: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var next = 0

    /// Starts handing out the buffers from the first again.
    func reset() { next = 0 }

    /// The next buffer, with room for rows x width floats, 64-byte aligned.
    func floats(_ rows: Int, _ width: Int) throws(ModelError) -> UnsafeMutablePointer<Float> {
        let (n, o1) = rows.multipliedReportingOverflow(by: max(width, 1))
        let (bytes, o2) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !o1, !o2 else {
            throw ModelError(.outOfMemory, "cannot allocate \(rows) × \(width) floats of scratch memory")
        }
        if next < blocks.count && blocks[next].capacity >= n {
            next += 1
            return blocks[next - 1].pointer
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(bytes, 64)) == 0, let raw else {
            throw ModelError(.outOfMemory, "cannot allocate \(rows) × \(width) floats of scratch memory")
        }
        let p = raw.bindMemory(to: Float.self, capacity: n)
        if next < blocks.count {
            free(blocks[next].pointer)      // too small: replaced by the larger buffer
            blocks[next] = (p, n)
        } else {
            blocks.append((p, n))
        }
        next += 1
        return p
    }

    /// Frees every buffer.
    func release() {
        for block in blocks { free(block.pointer) }
        blocks.removeAll()
        next = 0
    }

    deinit { release() }
}
