// Format version 2: convolution, max-pooling, dropout and the new provenance fields; the
// version a writer stores; every per-kind rejection.

import Testing
@testable import NNModel

/// The version-2 file a writer produces for `n`.
private func v2(_ n: NetworkModel) -> ModelFile { ModelFile(formatVersion: 2, body: .network(n)) }

/// Expects `n` to be rejected by validation, by the encoder, and by the decoder (given the bytes
/// an unvalidating writer would produce).
private func rejects(_ n: NetworkModel, _ code: StatusCode, _ fragment: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    let f = v2(n)
    expectError(code, fragment, sourceLocation: sourceLocation) { try validateModel(f) }
    expectError(code, fragment, sourceLocation: sourceLocation) { _ = try encodeModel(f) }
    let b = try encodeModelUnvalidated(f)
    expectError(code, fragment, sourceLocation: sourceLocation) { _ = try decodeModel(b) }
}

@Suite struct FormatV2RoundTrip {
    @Test func convNetworkEveryField() throws {
        let file = v2(makeConvNetwork())
        try validateModel(file)
        let bytes = try encodeModel(file)
        let decoded = try decodeModel(bytes)
        #expect(decoded == file)
        #expect(decoded.formatVersion == 2)
        let n = decoded.networks[0]
        #expect(n.layers.map(\.kind) == [.conv2d, .maxPool2d, .dense, .dense])
        #expect(n.layers[1].poolShape == [2, 2] && n.layers[1].weights == Tensor(shape: [], data: []))
        #expect(n.layers[2].dropout == 0.25 && n.layers[3].dropout == 0.5)
        let h = try #require(n.provenance?.hyperparameters)
        #expect(h.regularization == .l1 && h.momentum == 0.9 && h.weightInit == .network3)
        #expect(h.schedulePatience == 10 && h.scheduleFactor == 2 && h.scheduleStopFraction == 1.0 / 128)
        #expect(h.earlyStoppingPatience == 20 && h.expansion == "shift1" && h.architecture.hasPrefix("conv3x3x2"))
        #expect(n.provenance?.epochs[0].gradientNorms == [0.5, 0.25, 0.125])
        #expect(n.provenance?.epochs[0].test?.correct == 9790)
        #expect(n.provenance?.epochs[1].eta == 0.015 && n.provenance?.epochs[1].test == nil)
        #expect(n.provenance?.initialGradientNorms == [0.01, 0.02, 0.03] && n.provenance?.selectedEpoch == 1)
        #expect(try encodeModel(decoded) == bytes)
    }

    @Test func everyKindActivationAndInit() throws {
        // Each activation on each kind that allows it; every weight-init and regularisation value.
        for a in Activation.allCases where a != .softmax {
            var n = makeConvNetwork()
            n.layers[0].activation = a
            n.layers[1].activation = a
            n.layers[2].activation = a
            let f = v2(n)
            #expect(try decodeModel(encodeModel(f)) == f)
        }
        for w in WeightInit.allCases {
            for r in Regularization.allCases {
                var n = makeConvNetwork()
                n.provenance?.hyperparameters?.weightInit = w
                n.provenance?.hyperparameters?.regularization = r
                let f = v2(n)
                #expect(try decodeModel(encodeModel(f)) == f)
            }
        }
    }

    @Test func plainConvAndPoolFirst() throws {
        // A pooling layer first, a conv layer after it, and a dense layer over a [C, H, W] input.
        var rng = TestRNG(seed: 5)
        let layers: [Layer] = [
            .maxPool2d(name: "p", input: [1, 9, 8], pool: [3, 2], activation: .linear),   // -> [1, 3, 4]
            .conv2d(name: "c", input: [1, 3, 4], maps: 2, kernel: [1, 4], activation: .sigmoid,
                    weights: (0..<8).map { _ in rng.float() }, bias: [0.5, -0.5]),       // -> [2, 3, 1]
            Layer(name: "d", inputShape: [2, 3, 1], outputShape: [2], activation: .softmax,
                  weights: Tensor(shape: [2, 6], data: (0..<12).map { _ in rng.float() }),
                  bias: Tensor(shape: [2], data: [0, 0])),
        ]
        let n = NetworkModel(name: "odd", layers: layers, classLabels: ["a", "b"],
                             input: InputContract(shape: [1, 9, 8], scale: 1, offset: 0, polarity: .darkOnLight),
                             cost: .logLikelihood)
        let f = v2(n)
        #expect(try decodeModel(encodeModel(f)) == f)
    }

    @Test func ensembleOfConvNetworks() throws {
        let f = ModelFile(body: .ensemble(EnsembleModel(
            name: "e", members: [makeConvNetwork(name: "a", seed: 1), makeConvNetwork(name: "b", seed: 2)], voting: .majority)))
        #expect(f.formatVersion == 2 && f.minimumFormatVersion == 2)
        #expect(try decodeModel(encodeModel(f)) == f)
    }

    @Test func writersStoreTheLowestVersion() throws {
        // Whatever formatVersion says, a file is written with the lowest version that describes it.
        for stated: UInt32 in [0, 1, 2, 3, 99] {
            let dense = ModelFile(formatVersion: stated, body: .network(makeNetwork([4, 3])))
            #expect(try decodeModel(encodeModel(dense)).formatVersion == 1)
            let conv = ModelFile(formatVersion: stated, body: .network(makeConvNetwork()))
            #expect(try decodeModel(encodeModel(conv)).formatVersion == 2)
            var dropout = makeNetwork([4, 3])
            dropout.layers[0].dropout = 0.5
            #expect(try decodeModel(encodeModel(ModelFile(formatVersion: stated, body: .network(dropout)))).formatVersion == 2)
        }
        // A version-2 file without version-2 features (written by another writer) still reads.
        let b = try encodeModelUnvalidated(ModelFile(formatVersion: 2, body: .network(makeNetwork([4, 3]))))
        #expect(try decodeModel(b).formatVersion == 2)
    }

    @Test func unspecifiedRegularizationReadsAsL2() throws {
        let b = try encodeModelUnvalidated(v2(makeConvNetwork()), overrides: RawOverrides(regularization: 0))
        #expect(try decodeModel(b).networks[0].provenance?.hyperparameters?.regularization == .l2)
        let bad = try encodeModelUnvalidated(v2(makeConvNetwork()), overrides: RawOverrides(regularization: 9))
        expectError(.badModel, "provenance: regularization has unknown value 9") { _ = try decodeModel(bad) }
    }
}

@Suite struct FormatV2Rejects {
    @Test func versionOneFilesWithVersionTwoFeatures() throws {
        let conv = ModelFile(formatVersion: 1, body: .network(makeConvNetwork()))
        expectError(.badModel, "layer 1 'conv1': a conv2d layer needs format version 2") { try validateModel(conv) }
        expectError(.badModel, "needs format version 2") { _ = try decodeModel(try encodeModelUnvalidated(conv)) }
        var n = makeNetwork([4, 3, 2])
        n.layers[1].dropout = 0.5
        let dropout = ModelFile(formatVersion: 1, body: .network(n))
        expectError(.badModel, "layer 2 'fc2': dropout 0.5 needs format version 2") { try validateModel(dropout) }
        expectError(.badModel, "needs format version 2") { _ = try decodeModel(try encodeModelUnvalidated(dropout)) }
        let ensemble = ModelFile(formatVersion: 1, body: .ensemble(EnsembleModel(
            name: "e", members: [makeConvNetwork(name: "a")], voting: .majority)))
        expectError(.badModel, "member 1 'a': layer 1 'conv1': a conv2d layer needs format version 2") {
            _ = try decodeModel(try encodeModelUnvalidated(ensemble))
        }
    }

    @Test func conv2d() throws {
        let base = makeConvNetwork()
        var n = base
        n.layers[0].inputShape = [84]
        try rejects(n, .badModel, "layer 1 'conv1': conv2d input shape must be [C, H, W]")
        n = base; n.layers[0].inputShape = [2, 0, 42]
        try rejects(n, .badModel, "conv2d input shape must be [C, H, W] with positive dimensions")
        n = base; n.layers[0].weights.shape = [3, 2, 6]
        try rejects(n, .badModel, "layer 1 'conv1': conv2d weights shape must be [maps, 2, KH, KW]")
        n = base; n.layers[0].weights.shape = [3, 1, 3, 4]
        try rejects(n, .badModel, "the input has 2 channels")
        n = base; n.layers[0].weights.shape = [0, 2, 3, 2]; n.layers[0].weights.data = []
        try rejects(n, .badModel, "maps > 0")
        n = base; n.layers[0].weights.shape = [3, 2, 8, 1]; n.layers[0].weights.data += [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        try rejects(n, .badModel, "conv2d kernel 8x1 must be at least 1x1 and fit the 7x6 input")
        n = base; n.layers[0].weights.shape = [3, 2, 0, 2]; n.layers[0].weights.data = []
        try rejects(n, .badModel, "conv2d kernel 0x2")
        n = base; n.layers[0].weights.data.removeLast()
        try rejects(n, .badModel, "layer 1 'conv1': weights hold 35 floats, shape [3, 2, 3, 2] needs 36")
        n = base; n.layers[0].bias = Tensor(shape: [2], data: [0, 0])
        try rejects(n, .badModel, "layer 1 'conv1': bias shape is [2], expected [3]")
        n = base; n.layers[0].outputShape = [3, 5, 6]
        try rejects(n, .badModel, "layer 1 'conv1': conv2d output shape is [3, 5, 6], expected [3, 5, 5]")
        n = base; n.layers[0].dropout = 0.5
        try rejects(n, .badModel, "layer 1 'conv1': dropout 0.5 on a conv2d layer")
        n = base; n.layers[0].poolShape = [2, 2]
        try rejects(n, .badModel, "a conv2d layer has no pool shape")
        n = base; n.layers[0].activation = .softmax
        try rejects(n, .badModel, "layer 1 'conv1': softmax is not allowed on a conv2d layer")
        n = base; n.layers[0].weights.data[7] = .nan
        try rejects(n, .badModel, "layer 1 'conv1': weight 7 is nan")
        n = base; n.layers[0].bias.data[1] = .infinity
        try rejects(n, .badModel, "layer 1 'conv1': bias 1 is inf")
        n = base; n.layers[0].weights.shape = [1 << 20, 2, 3, 2]
        expectError(.badModel, "weights") { try validateModel(v2(n)) }
        n = base; n.layers[0].weights = Tensor(shape: [], data: [])
        expectError(.badModel, "layer 1 'conv1': conv2d weights shape must be") { try validateModel(v2(n)) }
        expectError(.badModel, "layer 1 'conv1': weights tensor is missing") {
            _ = try decodeModel(try encodeModelUnvalidated(v2(n)))
        }
    }

    @Test func maxPool2d() throws {
        let base = makeConvNetwork()
        var n = base
        n.layers[1].inputShape = [75]
        try rejects(n, .badModel, "layer 2 'pool1': max_pool2d input shape must be [C, H, W]")
        for pool in [[2], [2, 2, 1], [0, 2], [2, 0], [6, 2], [2, 6]] {
            n = base; n.layers[1].poolShape = pool
            try rejects(n, .badModel, "layer 2 'pool1': max_pool2d pool shape must be [PH, PW] with 1 <= PH <= 5 and 1 <= PW <= 5, found \(pool)")
        }
        n = base; n.layers[1].outputShape = [3, 3, 3]
        try rejects(n, .badModel, "layer 2 'pool1': max_pool2d output shape is [3, 3, 3], expected [3, 2, 2]")
        n = base; n.layers[1].weights = Tensor(shape: [1], data: [0])
        try rejects(n, .badModel, "layer 2 'pool1': a max_pool2d layer has no weights")
        n = base; n.layers[1].bias = Tensor(shape: [3], data: [0, 0, 0])
        try rejects(n, .badModel, "layer 2 'pool1': a max_pool2d layer has no bias")
        n = base; n.layers[1].dropout = 0.25
        try rejects(n, .badModel, "layer 2 'pool1': dropout 0.25 on a max_pool2d layer")
        n = base; n.layers[1].activation = .softmax
        try rejects(n, .badModel, "layer 2 'pool1': softmax is not allowed on a max_pool2d layer")
    }

    @Test func denseDropoutAndFlattening() throws {
        let base = makeConvNetwork()
        for p: Float in [1, 1.5, -0.25, .nan, .infinity, -.infinity] {
            var n = base
            n.layers[2].dropout = p
            try rejects(n, .badModel, "layer 3 'fc1': dropout \(p) is outside 0 <= p < 1")
        }
        var n = base
        n.layers[2].poolShape = [2, 2]
        try rejects(n, .badModel, "layer 3 'fc1': a dense layer has no pool shape")
        // A dense layer may state its input as [C, H, W]: it is flattened.
        n = base; n.layers[2].inputShape = [3, 2, 2]
        try validateModel(v2(n))
        #expect(try decodeModel(encodeModel(v2(n))) == v2(n))
        n = base; n.layers[2].inputShape = [3, 2, 3]
        try rejects(n, .badModel, "layer 3 'fc1': weights shape is [5, 12], expected [5, 18]")
    }

    @Test func layersAndContractMustAgree() throws {
        let base = makeConvNetwork()
        var n = base
        // pool1 produces [3, 2, 2] = 12; fc1 taking 10 disagrees.
        n.layers[2] = .dense(name: "fc1", inputs: 10, outputs: 5, activation: .tanh,
                             weights: [Float](repeating: 0, count: 50), bias: [0, 0, 0, 0, 0])
        try rejects(n, .badModel, "layer 3 'fc1': takes 10 inputs but layer 2 'pool1' produces 12")
        // The same element count but another [C, H, W] is fine between layers only through
        // dense flattening; for a conv first layer the contract's shape must match exactly.
        n = base; n.input.shape = [2, 6, 7]
        try rejects(n, .badModel, "input contract: shape [2, 6, 7] differs from the input shape [2, 7, 6] of layer 1 'conv1' (conv2d)")
        n = base; n.input.shape = [84]
        try rejects(n, .badModel, "input contract: shape [84] differs")
        n = base; n.input.shape = [1, 7, 6]
        try rejects(n, .badModel, "input contract: shape [1, 7, 6] has 42 elements, layer 1 'conv1' takes 84 inputs")
        n = base; n.classLabels = ["a", "b"]
        try rejects(n, .badModel, "2 class labels for 3 outputs")
    }

    @Test func poolTensorsOnTheWire() throws {
        // A pooling layer's tensors are absent from the file; a file that stores non-empty ones
        // is rejected by the decoder before validation.
        var n = makeConvNetwork()
        n.layers[1].weights = Tensor(shape: [2], data: [1, 2])
        let b = try encodeModelUnvalidated(v2(n))
        expectError(.badModel, "layer 2 'pool1': a max_pool2d layer has no weights, but the file stores a weights tensor of shape [2] with 2 floats") {
            _ = try decodeModel(b)
        }
        // Absent tensors on a dense or conv layer are missing.
        n = makeConvNetwork()
        n.layers[0].bias = Tensor(shape: [], data: [])
        let c = try encodeModelUnvalidated(v2(n))
        expectError(.badModel, "layer 1 'conv1': bias tensor is missing") { _ = try decodeModel(c) }
    }

    @Test func corruptConvFiles() throws {
        // Flip every byte of a version-2 file: each result decodes to a valid model or fails cleanly.
        let good = try encodeModel(v2(makeConvNetwork()))
        var rng = TestRNG(seed: 3)
        for i in 0..<good.count {
            var b = good
            b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            do {
                try validateModel(try decodeModel(b))
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        for length in 0..<good.count {
            #expect(throws: ModelError.self) { _ = try decodeModel(Array(good.prefix(length))) }
        }
    }
}

/// `ModelLimits`: shapes a few bytes can declare but no runtime should allocate (found by design
/// review for fuzzing, issue 6; the files are kept in fuzz/regressions/model).
@Suite struct ModelSizeLimits {
    func network(_ layers: [Layer], input: [Int]) -> NetworkModel {
        NetworkModel(name: "big", layers: layers, classLabels: ["0"],
                     input: InputContract(shape: input, scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark),
                     cost: .quadratic)
    }

    @Test func poolingOverAHugeInput() throws {
        // 3.6e9 floats per example from a file of about 100 bytes.
        let n = network([.maxPool2d(name: "pool", input: [1, 60000, 60000], pool: [60000, 60000])], input: [1, 60000, 60000])
        try rejects(n, .unsupported,
                    "layer 1 'pool': its input [1, 60000, 60000] holds 3600000000 values per example, over this library's limit of 16777216 (2^24) per layer")
    }

    @Test func oneByOneConvolutionOverAHugeInput() throws {
        let n = network([
            .conv2d(name: "conv", input: [1, 60000, 60000], maps: 1, kernel: [1, 1], activation: .linear, weights: [0.5], bias: [0]),
            .maxPool2d(name: "pool", input: [1, 60000, 60000], pool: [60000, 60000]),
        ], input: [1, 60000, 60000])
        try rejects(n, .unsupported, "layer 1 'conv': its input [1, 60000, 60000] holds 3600000000 values")
    }

    @Test func aLayerOutputOverTheLimit() throws {
        // Input within the limit, output (maps x positions) over it.
        let maps = 300
        let n = network([
            .conv2d(name: "conv", input: [1, 300, 300], maps: maps, kernel: [1, 1], activation: .relu,
                    weights: [Float](repeating: 0.5, count: maps), bias: [Float](repeating: 0, count: maps)),
            .maxPool2d(name: "pool", input: [maps, 300, 300], pool: [300, 300]),
            .dense(name: "out", inputs: maps, outputs: 1, activation: .sigmoid,
                   weights: [Float](repeating: 0, count: maps), bias: [0]),
        ], input: [1, 300, 300])
        try rejects(n, .unsupported, "layer 1 'conv': its output [300, 300, 300] holds 27000000 values per example")
    }

    @Test func aConvolutionThatUnrollsTooFar() throws {
        // Activations within 2^24, but 16x16 kernels at 3985x3985 positions unroll to 4.07e9 floats.
        let n = network([
            .conv2d(name: "conv", input: [1, 4000, 4000], maps: 1, kernel: [16, 16], activation: .linear,
                    weights: [Float](repeating: 0.01, count: 256), bias: [0]),
            .maxPool2d(name: "pool", input: [1, 3985, 3985], pool: [3985, 3985]),
        ], input: [1, 4000, 4000])
        try rejects(n, .unsupported,
                    "layer 1 'conv': its 16x16 kernels over 1 channel at 3985x3985 positions unroll to 4065337600 values per example, over this library's limit of 67108864 (2^26)")
    }

    @Test func layersAtTheLimitsAreValid() throws {
        let side = 4096                                   // 4096^2 = 2^24 values
        let pool = network([.maxPool2d(name: "pool", input: [1, side, side], pool: [side, side])], input: [1, side, side])
        try validateModel(v2(pool))
        #expect(try decodeModel(encodeModel(v2(pool))) == v2(pool))
        // 4 x 4 kernels at 2048 x 2048 positions: exactly 2^26 unrolled values.
        let conv = network([
            .conv2d(name: "conv", input: [1, 2051, 2051], maps: 1, kernel: [4, 4], activation: .linear,
                    weights: [Float](repeating: 0.1, count: 16), bias: [0]),
            .maxPool2d(name: "pool", input: [1, 2048, 2048], pool: [2048, 2048]),
        ], input: [1, 2051, 2051])
        try validateModel(v2(conv))
        #expect(ModelLimits.maxLayerElements == 1 << 24 && ModelLimits.maxConvolutionPatchElements == 1 << 26)
    }
}
