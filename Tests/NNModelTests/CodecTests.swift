import Testing
@testable import NNModel
#if canImport(Glibc)
import Glibc
#endif

/// A file holding `n`, with the format version a writer stores for it.
private func fileWith(_ n: NetworkModel) -> ModelFile {
    var f = ModelFile(body: .network(n))
    f.formatVersion = f.minimumFormatVersion
    return f
}

@Suite struct CodecRoundTrip {
    @Test func networkEveryField() throws {
        let file = ModelFile(formatVersion: 1, producer: Producer(name: "test-producer", version: "9.8.7"),
                             metadata: [(key: "description", value: "a test"), (key: "author", value: "me"),
                                        (key: "description", value: "duplicate keys kept in order")],
                             body: .network(makeFullNetwork()))
        let bytes = try encodeModel(file)
        // Writers emit the identifier first: 0x0A, 10, "nnrt-model".
        #expect(Array(bytes.prefix(12)) == [0x0A, 0x0A] + Array("nnrt-model".utf8))
        let decoded = try decodeModel(bytes)
        #expect(decoded == file)
        #expect(decoded.metadata.count == 3)
        #expect(decoded.networks[0].provenance?.epochs[1].evaluation?.cost == 0.25)
        #expect(decoded.networks[0].provenance?.epochs[1].evaluation?.correct == nil)
        #expect(decoded.networks[0].provenance?.epochs[1].training == nil)
        // Re-encoding is byte-identical.
        #expect(try encodeModel(decoded) == bytes)
    }

    @Test func ensembleEveryField() throws {
        for rule in VotingRule.allCases {
            let e = EnsembleModel(name: "ens", members: [makeFullNetwork(), makeNetwork([6, 5, 3], name: "b", seed: 3, labels: ["a", "b", "c"])],
                                  voting: rule,
                                  evaluations: [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 10, correct: 9))])
            var b = e.members[1]
            b.input = e.members[0].input
            var members = e.members
            members[1] = b
            let file = ModelFile(formatVersion: 1, body: .ensemble(EnsembleModel(name: e.name, members: members, voting: rule, evaluations: e.evaluations)))
            #expect(try decodeModel(encodeModel(file)) == file)
        }
    }

    @Test func allEnumValues() throws {
        for a in Activation.allCases {
            for c in CostKind.allCases {
                var n = makeNetwork([3, 2], activations: [a])
                n.cost = c
                n.input.polarity = a.rawValue % 2 == 0 ? .darkOnLight : .lightOnDark
                var p = Provenance()
                p.hyperparameters = Hyperparameters(sizes: [3, 2], cost: c, eta: 0.1, lambda: 0, miniBatchSize: 1,
                                                    epochs: 1, weightInit: a.rawValue % 2 == 0 ? .standardNormal : .scaledNormal,
                                                    trainingExamples: 0)
                n.provenance = p
                let f = fileWith(n)
                #expect(try decodeModel(encodeModel(f)) == f)
            }
        }
    }

    @Test func fileWriteAndRead() throws {
        let dir = "/tmp/nnrt-codec-\(getpid())"
        mkdir(dir, 0o755)
        defer { rmdir(dir) }
        let path = dir + "/m.nnrt"
        defer { unlink(path) }
        let file = fileWith(makeFullNetwork())
        try writeModelFile(file, to: path)
        #expect(try readModelFile(path: path) == file)
        // Overwrite in place; no temporary files are left behind.
        try writeModelFile(fileWith(makeNetwork([2, 2])), to: path)
        #expect(try readModelFile(path: path).networks[0].sizes == [2, 2])
        #expect(listDirectory(dir) == ["m.nnrt"])
        // A failed write leaves the old file untouched and nothing else.
        var bad = makeNetwork([2, 2])
        bad.classLabels = ["x"]
        expectError(.badModel, "class labels") { try writeModelFile(fileWith(bad), to: path) }
        expectError(.io, "cannot create") { try writeModelFile(fileWith(makeNetwork([2, 2])), to: dir + "/missing/m.nnrt") }
        #expect(listDirectory(dir) == ["m.nnrt"])
        #expect(try readModelFile(path: path).networks[0].sizes == [2, 2])
    }

    @Test func readErrors() {
        expectError(.io, "No such file") { _ = try readModelFile(path: "/nonexistent/model.nnrt") }
        expectError(.io, "not a regular file") { _ = try readModelFile(path: "/tmp") }
        let path = "/tmp/nnrt-empty-\(getpid()).nnrt"
        let fd = creat(path, 0o644)
        close(fd)
        defer { unlink(path) }
        expectError(.badModel, "not an nnrt model file") { _ = try readModelFile(path: path) }
    }
}

func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

@Suite struct CodecRejects {
    let good = try! encodeModel(ModelFile(body: .network(makeNetwork([5, 4, 3]))))

    @Test func empty() {
        expectError(.badModel, "not an nnrt model file") { _ = try decodeModel([]) }
        expectError(.badModel, "not an nnrt model file") { _ = try decodeModel(UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    @Test func everyTruncation() {
        for length in 0..<good.count {
            do {
                _ = try decodeModel(Array(good.prefix(length)))
                Issue.record("prefix of \(length) bytes decoded")
            } catch {
                #expect(error.code == .badModel, "\(length): \(error.message)")
                #expect(!error.message.isEmpty)
            }
        }
        #expect((try? decodeModel(good)) != nil)
    }

    @Test func corruptBytes() {
        // Flip every byte in turn: each result either decodes to a valid model or fails cleanly.
        var rng = TestRNG(seed: 42)
        for i in 0..<good.count {
            var b = good
            b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            do {
                let m = try decodeModel(b)
                try validateModel(m)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test func randomBytes() {
        var rng = TestRNG(seed: 9)
        for trial in 0..<2000 {
            let n = Int(rng.next() % 300)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if trial % 2 == 0 && n > 12 {   // half of them start like a model file
                b.replaceSubrange(0..<12, with: good.prefix(12))
            }
            do {
                _ = try decodeModel(b)
                Issue.record("random bytes decoded")
            } catch {
                #expect([.badModel, .unsupportedVersion, .shapeMismatch, .unsupported].contains(error.code))
            }
        }
    }

    @Test func wrongIdentifier() throws {
        let b = try encodeModelUnvalidated(ModelFile(body: .network(makeNetwork([2, 2]))),
                                           overrides: RawOverrides(identifier: "onnx-model"))
        expectError(.badModel, "not an nnrt model file: identifier is 'onnx-model'") { _ = try decodeModel(b) }
        expectError(.badModel, "not an nnrt model file") { _ = try decodeModel(Array("hello, world\n".utf8)) }
    }

    @Test func wrongVersion() throws {
        let zero = try encodeModelUnvalidated(ModelFile(formatVersion: 0, body: .network(makeNetwork([2, 2]))))
        expectError(.badModel, "no format_version") { _ = try decodeModel(zero) }
        for v: UInt32 in [3, 99, UInt32.max] {
            let b = try encodeModelUnvalidated(ModelFile(formatVersion: v, body: .network(makeNetwork([2, 2]))))
            expectError(.unsupportedVersion, "reads format versions 1 to 2") { _ = try decodeModel(b) }
            expectError(.unsupportedVersion, "version \(v) is not supported") {
                try validateModel(ModelFile(formatVersion: v, body: .network(makeNetwork([2, 2]))))
            }
        }
    }

    @Test func missingBody() throws {
        let b = try encodeModelUnvalidated(ModelFile(body: .network(makeNetwork([2, 2]))), overrides: RawOverrides(dropBody: true))
        expectError(.badModel, "no network or ensemble") { _ = try decodeModel(b) }
    }

    @Test func enumValues() throws {
        let f = ModelFile(body: .network(makeNetwork([2, 3, 2])))
        func check(_ o: RawOverrides, _ code: StatusCode, _ fragment: String) throws {
            let b = try encodeModelUnvalidated(f, overrides: o)
            expectError(code, fragment) { _ = try decodeModel(b) }
        }
        try check(RawOverrides(layerKind: 0), .badModel, "layer 1 'fc1': layer kind is unspecified")
        try check(RawOverrides(layerKind: 4), .unsupported, "layer 1 'fc1': layer kind 4 is reserved")
        try check(RawOverrides(layerKind: 77), .badModel, "layer kind has unknown value 77")
        try check(RawOverrides(layerKind: -1), .badModel, "unknown value -1")
        try check(RawOverrides(activation: 0), .badModel, "activation is unspecified")
        try check(RawOverrides(activation: 6), .unsupported, "activation 6 is reserved")
        try check(RawOverrides(activation: 1000), .badModel, "activation has unknown value 1000")
        try check(RawOverrides(polarity: 0), .badModel, "polarity is unspecified")
        try check(RawOverrides(polarity: 3), .badModel, "polarity has unknown value 3")
        try check(RawOverrides(cost: 0), .badModel, "cost is unspecified")
        let e = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: [makeNetwork([2, 2])], voting: .majority)))
        let b = try encodeModelUnvalidated(e, overrides: RawOverrides(voting: 0))
        expectError(.badModel, "ensemble 'e': voting rule is unspecified") { _ = try decodeModel(b) }
    }

    private func rejects(_ n: NetworkModel, _ code: StatusCode, _ fragment: String,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = fileWith(n)
        expectError(code, fragment, sourceLocation: sourceLocation) { try validateModel(f) }
        expectError(code, fragment, sourceLocation: sourceLocation) { _ = try encodeModel(f) }
        let b = try encodeModelUnvalidated(f)
        expectError(code, fragment, sourceLocation: sourceLocation) { _ = try decodeModel(b) }
    }

    /// The image-normalisation part of the input contract: stated, defaulted for files without
    /// it, and checked against the shape.
    @Test func imageNormalization() throws {
        var n = makeNetwork([784, 3, 2])
        n.input = .mnist
        let decoded = try decodeModel(try encodeModel(fileWith(n)))
        #expect(decoded.networks[0].input.image == .mnistDigit)
        // Files written before the field existed: MNIST's recipe for one 28x28 plane, else none.
        n.input.image = nil
        let old = try decodeModel(try encodeModel(fileWith(n))).networks[0].input
        #expect(old.image == nil)
        #expect(old.effectiveImage == .mnistDigit)
        #expect(InputContract(shape: [784], scale: 1, offset: 0, polarity: .lightOnDark).effectiveImage == nil)
        #expect(InputContract(shape: [28, 28], scale: 1, offset: 0, polarity: .lightOnDark).effectiveImage == .mnistDigit)
        n.input.image = ImageNormalization(boxSize: 29)
        try rejects(n, .badModel, "input contract: image box size 29 must be between 1 and the field's smaller side 28")
        n.input.image = ImageNormalization(boxSize: 0)
        try rejects(n, .badModel, "image box size 0 must be between 1")
        var flat = makeNetwork([4, 3, 2])
        flat.input = InputContract(shape: [2, 1, 2], scale: 1, offset: 0, polarity: .lightOnDark, image: .mnistDigit)
        try rejects(flat, .badModel, "image normalisation needs a one-channel (1, height, width) or (height, width) shape, not [2, 1, 2]")
    }

    @Test func shapes() throws {
        let base = makeNetwork([4, 3, 2])
        var n = base
        n.layers = []
        try rejects(n, .badModel, "network 'net' has no layers")
        n = base; n.layers[1].inputShape = [4]; n.layers[1].weights.shape = [2, 4]; n.layers[1].weights.data += [0, 0]
        try rejects(n, .badModel, "layer 2 'fc2': takes 4 inputs but layer 1 'fc1' produces 3")
        n = base; n.layers[0].weights.data.removeLast()
        try rejects(n, .badModel, "layer 1 'fc1': weights hold 11 floats, shape [3, 4] needs 12")
        n = base; n.layers[1].weights.shape = [3, 2]
        try rejects(n, .badModel, "layer 2 'fc2': weights shape is [3, 2], expected [2, 3]")
        n = base; n.layers[1].bias = Tensor(shape: [3], data: [0, 0, 0])
        try rejects(n, .badModel, "layer 2 'fc2': bias shape is [3], expected [2]")
        n = base; n.layers[1].bias = Tensor(shape: [2], data: [0])
        try rejects(n, .badModel, "bias")
        n = base; n.layers[0].inputShape = []
        try rejects(n, .badModel, "layer 1 'fc1': dense input shape must be a list of positive dimensions")
        n = base; n.layers[0].inputShape = [2, 0]
        try rejects(n, .badModel, "layer 1 'fc1': dense input shape must be a list of positive dimensions")
        n = base; n.layers[0].outputShape = []
        try rejects(n, .badModel, "layer 1 'fc1': dense output shape")
        n = base; n.classLabels = ["a", "b", "c"]
        try rejects(n, .badModel, "3 class labels for 2 outputs")
        n = base; n.input.shape = [1, 2, 3]
        try rejects(n, .badModel, "input contract: shape [1, 2, 3] has 6 elements, layer 1 'fc1' takes 4")
        n = base; n.input.shape = []
        try rejects(n, .badModel, "input contract")
        n = base; n.input.shape = [65536, 65536, 65536, 65536, 65536]
        try rejects(n, .badModel, "input contract")
        n = base; n.input.scale = .nan
        try rejects(n, .badModel, "must be finite")
        n = base; n.layers[1].weights.shape = [4_000_000_000, 4_000_000_000, 4_000_000_000]
        expectError(.badModel, "layer 2 'fc2': weights shape") { try validateModel(fileWith(n)) }
        let overflow = try encodeModelUnvalidated(fileWith(n))
        expectError(.badModel, "layer 2 'fc2': weights shape [4000000000, 4000000000, 4000000000] overflows") {
            _ = try decodeModel(overflow)
        }
    }

    @Test func nonFiniteWeights() throws {
        var n = makeNetwork([4, 3, 2])
        n.layers[1].weights.data[3] = .nan
        try rejects(n, .badModel, "layer 2 'fc2': weight 3 is nan")
        n = makeNetwork([4, 3, 2])
        n.layers[0].bias.data[2] = -.infinity
        try rejects(n, .badModel, "layer 1 'fc1': bias 2 is -inf")
    }

    @Test func ensembles() throws {
        let empty = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: [], voting: .majority)))
        expectError(.badModel, "ensemble 'e' has no members") { try validateModel(empty) }
        let b = try encodeModelUnvalidated(empty)
        expectError(.badModel, "ensemble 'e' has no members") { _ = try decodeModel(b) }

        let inputs = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: [makeNetwork([4, 2]), makeNetwork([5, 2], name: "n2")], voting: .majority)))
        expectError(.badModel, "member 2 'n2' takes 5 inputs, member 1 'net' takes 4") { try validateModel(inputs) }
        expectError(.badModel, "takes 5 inputs") { _ = try decodeModel(try encodeModelUnvalidated(inputs)) }

        let labels = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: [makeNetwork([4, 2]), makeNetwork([4, 2], labels: ["x", "y"])], voting: .meanProbability)))
        expectError(.badModel, "class labels ['x', 'y']") { try validateModel(labels) }

        var bad = makeNetwork([4, 2], name: "bad")
        bad.layers[0].weights.data[0] = .infinity
        let member = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: [makeNetwork([4, 2]), bad], voting: .majority)))
        expectError(.badModel, "member 2 'bad': layer 1 'fc1': weight 0 is inf") { _ = try decodeModel(try encodeModelUnvalidated(member)) }
    }

    @Test func unstorableValues() {
        var n = makeNetwork([2, 2])
        n.name = "a\u{0}b"
        expectError(.invalidArgument, "NUL") { _ = try encodeModel(fileWith(n)) }
        n = makeNetwork([2, 2])
        var p = Provenance()
        p.epochs = [EpochMetrics(epoch: -1, seconds: 0)]
        n.provenance = p
        expectError(.invalidArgument, "epoch number is -1") { _ = try encodeModel(fileWith(n)) }
    }
}
