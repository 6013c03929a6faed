import NNModel
@testable import NNRuntime
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Sessions: the same results as the model's own predictions, bit for bit, for every thread count
/// and batch size, with memory reused between calls.
@Suite struct SessionTests {
    func inputs(_ count: Int, _ size: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        return (0..<(count * size)).map { _ in rng.float() }
    }

    @Test(arguments: [1, 2, 3, 0])
    func sameResultsAsTheModelForEveryThreadCount(threads: Int) throws {
        let models = [try model(makeNetwork([20, 30, 10], seed: 4)),
                      try model(makeConvNetwork()),
                      try ensemble([makeNetwork([20, 7, 10], seed: 5), makeNetwork([20, 9, 10], seed: 6),
                                    makeNetwork([20, 5, 10], seed: 7)], .majority)]
        for m in models {
            // Split even small batches (these networks are tiny), so every part boundary is tested.
            let session = try Session(model: m, threads: threads, minimumWork: 1)
            #expect(session.threads >= 1)
            // Sizes around the split and the 256-row blocks, repeated so the second call of a
            // size reuses the first one's memory.
            for count in [1, 31, 64, 65, 257, 700, 64, 1] {
                let x = inputs(count, m.inputSize, seed: UInt64(count))
                let expected = try m.predict(x)
                var labels = [Int32](repeating: -1, count: count)
                var outputs = [Float](repeating: .nan, count: count * m.classCount)
                try x.withUnsafeBufferPointer { xb in
                    try labels.withUnsafeMutableBufferPointer { lb in
                        try outputs.withUnsafeMutableBufferPointer { ob in
                            try session.predict(xb, count: count, labels: lb, outputs: ob)
                        }
                    }
                }
                #expect(labels == expected.labels, "threads \(threads), count \(count)")
                #expect(outputs == expected.outputs, "threads \(threads), count \(count)")
                let pixels = (0..<(count * m.inputSize)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
                let expectedPixels = try m.predict(pixels: pixels)
                try pixels.withUnsafeBufferPointer { pb in
                    try labels.withUnsafeMutableBufferPointer { lb in
                        try session.predict(pixels: pb, count: count, labels: lb, outputs: nil)
                    }
                }
                #expect(labels == expectedPixels.labels, "pixels, threads \(threads), count \(count)")
            }
        }
    }

    /// Fewer examples than threads: each convolution's output maps are split between the threads
    /// (`MapSplit`), with its pooling and activations, into parts of uneven sizes, on both kernel
    /// paths (output widths of 24 and 8 read the input in place, 10 goes through im2col) and with
    /// and without a pooling layer after it; bit-identical to the model's own one-thread results.
    /// The second and third networks' 5x5 convolutions over 20 and 14 channels go through
    /// Winograd's F(2x2, 5x5), split by blocks of maps: unpooled, with their 2x2 pooling taken
    /// from the tiles, and with a 4x4 pooling after them. The last two split a hidden dense
    /// layer's columns.
    @Test(arguments: [2, 3, 4, 0])
    func convolutionMapsSplitBetweenThreads(threads: Int) throws {
        var rng = TestRNG(seed: 11)
        func floats(_ n: Int) -> [Float] { (0..<n).map { _ in rng.float() * 0.3 } }
        let first: [Layer] = [
            .conv2d(name: "c1", input: [1, 28, 28], maps: 20, kernel: [5, 5], activation: .relu,
                    weights: floats(20 * 25), bias: floats(20)),
            .maxPool2d(name: "p1", input: [20, 24, 24], pool: [2, 2]),
        ]
        let direct: [Layer] = first + [
            .conv2d(name: "c2", input: [20, 12, 12], maps: 7, kernel: [3, 3], activation: .sigmoid,
                    weights: floats(7 * 20 * 9), bias: floats(7)),
            .conv2d(name: "c3", input: [7, 10, 10], maps: 5, kernel: [3, 3], activation: .tanh,
                    weights: floats(5 * 7 * 9), bias: floats(5)),
            .maxPool2d(name: "p3", input: [5, 8, 8], pool: [2, 2], activation: .relu),
            Layer(name: "out", inputShape: [5, 4, 4], outputShape: [10], activation: .softmax,
                  weights: Tensor(shape: [10, 80], data: floats(800)), bias: Tensor(shape: [10], data: floats(10))),
        ]
        let winograd: [Layer] = first + [
            .conv2d(name: "c2", input: [20, 12, 12], maps: 14, kernel: [5, 5], activation: .sigmoid,
                    weights: floats(14 * 20 * 25), bias: floats(14)),
            .conv2d(name: "c3", input: [14, 8, 8], maps: 9, kernel: [5, 5], activation: .tanh,
                    weights: floats(9 * 14 * 25), bias: floats(9)),
            .maxPool2d(name: "p3", input: [9, 4, 4], pool: [2, 2], activation: .relu),
            Layer(name: "out", inputShape: [9, 2, 2], outputShape: [10], activation: .softmax,
                  weights: Tensor(shape: [10, 36], data: floats(360)), bias: Tensor(shape: [10], data: floats(10))),
        ]
        let winogradPool4: [Layer] = first + [
            .conv2d(name: "c2", input: [20, 12, 12], maps: 14, kernel: [5, 5], activation: .relu,
                    weights: floats(14 * 20 * 25), bias: floats(14)),
            .maxPool2d(name: "p2", input: [14, 8, 8], pool: [4, 4], activation: .sigmoid),
            Layer(name: "out", inputShape: [14, 2, 2], outputShape: [10], activation: .softmax,
                  weights: Tensor(shape: [10, 56], data: floats(560)), bias: Tensor(shape: [10], data: floats(10))),
        ]
        // Hidden dense layers of 100 (several micro-panels) split by columns: after ReLU maps,
        // and after maps biased to be almost all zero (the zero-skipping product).
        func hidden(_ convBias: [Float]) -> [Layer] {
            [
                .conv2d(name: "c1", input: [1, 28, 28], maps: 20, kernel: [5, 5], activation: .relu,
                        weights: floats(20 * 25), bias: convBias),
                .maxPool2d(name: "p1", input: [20, 24, 24], pool: [2, 2]),
                Layer(name: "h", inputShape: [20, 12, 12], outputShape: [100], activation: .sigmoid,
                      weights: Tensor(shape: [100, 2880], data: floats(288_000)), bias: Tensor(shape: [100], data: floats(100))),
                Layer(name: "out", inputShape: [100], outputShape: [10], activation: .softmax,
                      weights: Tensor(shape: [10, 100], data: floats(1000)), bias: Tensor(shape: [10], data: floats(10))),
            ]
        }
        let dense = hidden(floats(20)), blank = hidden([Float](repeating: -1.5, count: 20))
        for layers in [direct, winograd, winogradPool4, dense, blank] {
            try checkMapSplit(layers, threads: threads)
        }
    }

    private func checkMapSplit(_ layers: [Layer], threads: Int) throws {
        let network = NetworkModel(name: "convs", layers: layers, classLabels: (0..<10).map(String.init),
                                   input: InputContract(shape: [1, 28, 28], scale: 1.0 / 255.0, offset: 0,
                                                        polarity: .lightOnDark),
                                   cost: .logLikelihood)
        let m = try model(network)
        let session = try Session(model: m, threads: threads, minimumWork: 1)
        for count in [1, 2, 3, 1] where count < session.threads {
            let x = inputs(count, m.inputSize, seed: UInt64(40 + count))
            let expected = try m.predict(x)
            var outputs = [Float](repeating: .nan, count: count * m.classCount)
            try x.withUnsafeBufferPointer { xb in
                try outputs.withUnsafeMutableBufferPointer { ob in
                    try session.predict(xb, count: count, labels: nil, outputs: ob)
                }
            }
            #expect(outputs.map(\.bitPattern) == expected.outputs.map(\.bitPattern), "threads \(threads), count \(count)")
        }
    }

    /// The worker hand-off under churn: thousands of back-to-back calls (workers still awake),
    /// calls after a pause longer than the workers' watch window (workers asleep), and calls
    /// that use fewer parts than there are workers, all bit-identical to the model's own results.
    @Test func workerHandOffUnderChurn() throws {
        let m = try model(makeNetwork([20, 30, 10], seed: 8))
        let session = try Session(model: m, threads: 3, minimumWork: 1)
        let counts = [1, 2, 3, 7, 64]
        let cases = try counts.map { count in
            let x = inputs(count, m.inputSize, seed: UInt64(100 + count))
            return (count, x, try m.predict(x).outputs)
        }
        var outputs = [Float](repeating: 0, count: 64 * m.classCount)
        for call in 0..<3000 {
            let (count, x, expected) = cases[call % cases.count]
            if call % 500 == 499 { usleep(2000) }   // past the 0.1 ms watch window: workers sleep
            try x.withUnsafeBufferPointer { xb in
                try outputs.withUnsafeMutableBufferPointer { ob in
                    try session.predict(xb, count: count, labels: nil,
                                        outputs: UnsafeMutableBufferPointer(rebasing: ob[0..<(count * m.classCount)]))
                }
            }
            #expect(Array(outputs[0..<(count * m.classCount)]) == expected, "call \(call), count \(count)")
        }
    }

    /// The pool's chunks: every chunk of every job runs exactly once, on a thread allowed to take
    /// part, whatever the mix of chunk counts, thread counts, slow chunks (a worker holding a
    /// chunk while the caller finishes the rest) and workers asleep (past the 0.1 ms watch
    /// window, so they wake late and must leave a finished job alone).
    @Test func sharedChunksRunExactlyOnce() throws {
        let pool = try WorkerPool(workers: 3)
        defer { pool.shutdown() }
        let capacity = 40
        let runs = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: capacity)
        for c in 0..<capacity { (runs + c).initialize(to: Atomic(0)) }
        defer { runs.deallocate() }
        let outsiders = Atomic<Int>(0)
        for job in 0..<4000 {
            let chunks = job % capacity, participants = 1 + job % 4
            for c in 0..<capacity { runs[c].store(0, ordering: .relaxed) }
            pool.share(chunks: chunks, participants: participants) { c, k in
                if k >= participants || c >= chunks { outsiders.add(1, ordering: .relaxed) }
                if k > 0, job % 5 == 0 { usleep(UInt32(50 * (c % 3))) }     // a slow worker
                runs[c].add(1, ordering: .relaxed)
            }
            for c in 0..<capacity where runs[c].load(ordering: .relaxed) != (c < chunks ? 1 : 0) {
                Issue.record("job \(job): chunk \(c) of \(chunks) ran \(runs[c].load(ordering: .relaxed)) times")
            }
            if job % 400 == 399 { usleep(2000) }   // past the watch window: workers sleep
        }
        #expect(outsiders.load(ordering: .relaxed) == 0)
    }

    @Test func argumentsAreChecked() throws {
        let m = try model(makeNetwork([4, 3, 2]))
        #expect(throws: ModelError.self) { try Session(model: m, threads: 257) }
        let session = try Session(model: m, threads: 2)
        var labels = [Int32](repeating: 0, count: 1)
        let x = [Float](repeating: 0, count: 3)       // one example needs 4
        #expect(throws: ModelError.self) {
            try x.withUnsafeBufferPointer { xb in
                try labels.withUnsafeMutableBufferPointer { lb in try session.predict(xb, count: 1, labels: lb, outputs: nil) }
            }
        }
    }
}
