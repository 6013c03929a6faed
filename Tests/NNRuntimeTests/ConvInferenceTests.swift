// The runtime on format-version-2 networks (conv2d, max_pool2d, dense dropout) against the
// double-precision reference forward pass, across block boundaries, for every activation.

import Testing
import NNModel
@testable import NNRuntime

/// Checks every output of `m` on `count` random examples against the reference, within 1e-5.
private func expectMatchesReference(_ n: NetworkModel, _ m: Model, count: Int, seed: UInt64,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    var rng = TestRNG(seed: seed)
    let size = m.inputSize
    let x = (0..<(count * size)).map { _ in rng.float() }
    let p = try m.predict(x)
    let classes = m.classCount
    var worst = 0.0
    for r in 0..<count {
        let ref = referenceForward(n, Array(x[(r * size)..<((r + 1) * size)]))
        for c in 0..<classes { worst = max(worst, abs(Double(p.outputs[r * classes + c]) - ref[c])) }
        let got = Int(p.labels[r])
        #expect(got == referenceArgmax(ref) || abs(ref[got] - ref[referenceArgmax(ref)]) < 1e-5,
                sourceLocation: sourceLocation)
    }
    #expect(worst <= 1e-5, "largest difference from the reference: \(worst)", sourceLocation: sourceLocation)
}

@Suite struct ConvInference {
    @Test func matchesReferenceAcrossBlocks() throws {
        let n = makeConvNetwork()
        let m = try model(n)
        #expect(m.inputSize == 2 * 9 * 8 && m.classCount == 4)
        for count in [1, 3, 255, 256, 257, 600] {
            try expectMatchesReference(n, m, count: count, seed: UInt64(count))
        }
    }

    @Test(arguments: Activation.allCases)
    func everyActivation(_ a: Activation) throws {
        // conv and pool take every elementwise activation; dense layers every one incl. softmax.
        let elementwise: Activation = a == .softmax ? .sigmoid : a
        let n = makeConvNetwork(activations: [elementwise, elementwise, elementwise, a], seed: UInt64(a.rawValue))
        try expectMatchesReference(n, try model(n), count: 37, seed: 3)
        let hidden = makeConvNetwork(activations: [.linear, .linear, a, .softmax], seed: UInt64(10 + a.rawValue))
        try expectMatchesReference(hidden, try model(hidden), count: 37, seed: 4)
    }

    @Test(arguments: [
        // channels, height, width, maps, kernel, pool, dropout
        (1, 28, 28, 4, (5, 5), (2, 2), Float(0)),     // the book's first conv layer, fewer maps
        (3, 7, 11, 2, (1, 4), (3, 2), Float(0.25)),    // non-square kernel and pool, remainders
        (2, 5, 5, 5, (5, 5), (1, 1), Float(0.75)),     // the kernel covers the whole image
        (4, 6, 6, 1, (2, 3), (5, 4), Float(0.5)),      // one map, a pool window over almost all
    ])
    func shapes(_ c: Int, _ h: Int, _ w: Int, _ maps: Int, _ kernel: (Int, Int), _ pool: (Int, Int), _ dropout: Float) throws {
        let n = makeConvNetwork(channels: c, height: h, width: w, maps: maps, kernel: kernel, pool: pool,
                                dropout: dropout, seed: UInt64(c * h * w))
        try expectMatchesReference(n, try model(n), count: 70, seed: 9)
    }

    @Test func twoConvPoolLayersAndPoolFirst() throws {
        var rng = TestRNG(seed: 21)
        func floats(_ k: Int) -> [Float] { (0..<k).map { _ in rng.float() } }
        // network3's chapter-6 shape in miniature: conv-pool, conv-pool, fc, softmax.
        let deep = NetworkModel(
            name: "deep",
            layers: [
                .conv2d(name: "c1", input: [1, 14, 14], maps: 3, kernel: [3, 3], activation: .linear,
                        weights: floats(27), bias: floats(3)),                          // -> [3, 12, 12]
                .maxPool2d(name: "p1", input: [3, 12, 12], pool: [2, 2], activation: .relu), // -> [3, 6, 6]
                .conv2d(name: "c2", input: [3, 6, 6], maps: 4, kernel: [3, 3], activation: .linear,
                        weights: floats(4 * 27), bias: floats(4)),                      // -> [4, 4, 4]
                .maxPool2d(name: "p2", input: [4, 4, 4], pool: [2, 2], activation: .relu),   // -> [4, 2, 2]
                Layer(name: "fc", inputShape: [4, 2, 2], outputShape: [8], activation: .relu,
                      weights: Tensor(shape: [8, 16], data: floats(128)), bias: Tensor(shape: [8], data: floats(8)),
                      dropout: 0.5),
                .dense(name: "out", inputs: 8, outputs: 10, activation: .softmax, weights: floats(80), bias: floats(10),
                       dropout: 0.5),
            ],
            classLabels: (0..<10).map(String.init),
            input: InputContract(shape: [1, 14, 14], scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark),
            cost: .logLikelihood)
        try expectMatchesReference(deep, try model(deep), count: 300, seed: 2)

        let poolFirst = NetworkModel(
            name: "poolFirst",
            layers: [
                .maxPool2d(name: "p", input: [2, 6, 5], pool: [2, 2], activation: .tanh),    // -> [2, 3, 2]
                .conv2d(name: "c", input: [2, 3, 2], maps: 2, kernel: [2, 2], activation: .sigmoid,
                        weights: floats(16), bias: floats(2)),                          // -> [2, 2, 1]
                Layer(name: "d", inputShape: [2, 2, 1], outputShape: [3], activation: .linear,
                      weights: Tensor(shape: [3, 4], data: floats(12)), bias: Tensor(shape: [3], data: floats(3))),
            ],
            classLabels: ["a", "b", "c"],
            input: InputContract(shape: [2, 6, 5], scale: 1, offset: 0, polarity: .darkOnLight),
            cost: .quadratic)
        try expectMatchesReference(poolFirst, try model(poolFirst), count: 50, seed: 8)
    }

    @Test func dropoutScalesTheInputsExactlyAsTheTrainer() throws {
        // z = W ((1 - p) x) + b: with p = 0.75 the hidden layer computes exactly what a layer
        // without dropout computes on x / 4 (the scaling by 0.25 is exact in float).
        var withDropout = makeNetwork([6, 5, 3], seed: 4, activations: [.relu, .softmax])
        withDropout.layers[0].dropout = 0.75
        let plain = makeNetwork([6, 5, 3], seed: 4, activations: [.relu, .softmax])
        var rng = TestRNG(seed: 6)
        let x = (0..<(6 * 20)).map { _ in rng.float() }
        #expect(try model(withDropout).predict(x) == model(plain).predict(x.map { $0 * 0.25 }))
        try expectMatchesReference(withDropout, try model(withDropout), count: 20, seed: 6)
    }

    @Test func blocksAndBatchesGiveTheSameBits() throws {
        let n = makeConvNetwork(seed: 5)
        let m = try model(n)
        var rng = TestRNG(seed: 12)
        let size = m.inputSize, classes = m.classCount
        let count = 700
        let x = (0..<(count * size)).map { _ in rng.float() }
        let all = try m.predict(x)
        for r in stride(from: 0, to: count, by: 97) {
            let one = try m.predict(Array(x[(r * size)..<((r + 1) * size)]))
            #expect(one.outputs == Array(all.outputs[(r * classes)..<((r + 1) * classes)]))
            #expect(one.labels[0] == all.labels[r])
        }
    }

    @Test func pixelsAndEnsembles() throws {
        let a = makeConvNetwork(seed: 31, name: "a"), b = makeConvNetwork(seed: 32, name: "b")
        let c = makeConvNetwork(seed: 33, name: "c")
        var rng = TestRNG(seed: 13)
        let size = 2 * 9 * 8
        let pixels = (0..<(size * 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let single = try model(a)
        // Pixels are scaled by the contract (pixel * 1/255) before the first (conv) layer.
        #expect(try single.predict(pixels: pixels) == single.predict(pixels.map { Float($0) * (1.0 / 255.0) }))
        for rule in VotingRule.allCases {
            let e = try ensemble([a, b, c], rule)
            let p = try e.predict(pixels: pixels)
            // Each member inside the ensemble computes what it computes alone.
            var memberLabels = [Int32](repeating: -1, count: 300 * 3)
            let scaled = pixels.map { Float($0) * (1.0 / 255.0) }
            try scaled.withUnsafeBufferPointer { x in
                try memberLabels.withUnsafeMutableBufferPointer { l in
                    try e.predictMembers(x, count: 300, memberLabels: l, memberOutputs: nil)
                }
            }
            let alone = try [a, b, c].map { try model($0).predict(scaled).labels }
            for r in 0..<300 {
                for k in 0..<3 { #expect(memberLabels[r * 3 + k] == alone[k][r]) }
            }
            #expect(p.labels.count == 300)
        }
    }

    @Test func layerDescriptions() throws {
        let m = try model(makeConvNetwork())
        let info = m.members[0].layerInfo
        #expect(info.map(\.kind) == [.conv2d, .maxPool2d, .dense, .dense])
        #expect(info.map(\.activation) == [.linear, .relu, .tanh, .softmax])
        #expect(info.map(\.name) == ["conv1", "pool1", "fc1", "out"])
        #expect(info.map(\.summary) == [
            "conv2d 'conv1' [2,9,8] -> [3,7,7], 3x2 kernels, linear",
            "max_pool2d 'pool1' [3,7,7] -> [3,3,3], 2x2 max-pooling, relu",
            "dense 'fc1' [3,3,3] -> [7], tanh, dropout 0.5 (inputs scaled by 0.5)",
            "dense 'out' [7] -> [4], softmax, dropout 0.25 (inputs scaled by 0.75)",
        ])
        let dense = try model(makeNetwork([5, 3, 2]))
        #expect(dense.members[0].layerInfo.map(\.summary) == ["dense 'fc1' [5] -> [3], sigmoid", "dense 'fc2' [3] -> [2], sigmoid"])
    }

    @Test func loadsFromEncodedFiles() throws {
        // Through the codec: a version-2 file loads, reports version 2, and predicts the same.
        let n = makeConvNetwork(seed: 40)
        let bytes = try encodeModel(ModelFile(body: .network(n)))
        let m = try bytes.withUnsafeBytes { try Model.load(bytes: $0) }
        #expect(m.formatVersion == 2)
        var rng = TestRNG(seed: 1)
        let x = (0..<(m.inputSize * 10)).map { _ in rng.float() }
        #expect(try m.predict(x) == model(n).predict(x))
    }
}
