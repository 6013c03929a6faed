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

/// One dense layer ready to run: weights (outFeatures, inFeatures), bias (outFeatures).
struct CompiledLayer: Sendable {
    let inFeatures: Int
    let outFeatures: Int
    let activation: ActivationFunction
    let weights: [Float]
    let bias: [Float]
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
    let layers: [CompiledLayer]
    /// The widest layer output, which sizes the scratch buffers.
    let maxWidth: Int

    /// Compiles a network; it must have passed `validateModel` (`Model.init(file:)` checks).
    init(_ n: NetworkModel) throws(ModelError) {
        guard !n.layers.isEmpty else { throw ModelError(.badModel, "network '\(n.name)' has no layers") }
        name = n.name
        input = n.input
        var compiled: [CompiledLayer] = []
        for layer in n.layers {
            guard layer.kind == .dense, layer.dropout == 0 else {
                throw ModelError(.unsupported, "layer '\(layer.name)': \(layer.kind.name) layers and dropout are not supported by this runtime yet")
            }
            guard let f = ActivationFunction(rawValue: layer.activation.rawValue) else {
                throw ModelError(.unsupported, "layer '\(layer.name)': activation \(layer.activation.name) is not supported")
            }
            compiled.append(CompiledLayer(inFeatures: layer.inputShape[0], outFeatures: layer.outputShape[0],
                                          activation: f, weights: layer.weights.data, bias: layer.bias.data))
        }
        layers = compiled
        inputSize = compiled[0].inFeatures
        outputSize = compiled[compiled.count - 1].outFeatures
        maxWidth = compiled.reduce(0) { max($0, $1.outFeatures) }
    }

    /// Runs `rows` examples (input is (rows, inputSize)) through the network, ping-ponging between
    /// the two scratch buffers (each at least rows * maxWidth floats). Returns the buffer holding
    /// the (rows, outputSize) result.
    func forward(_ input: UnsafePointer<Float>, rows: Int,
                 _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        var current = UnsafePointer(input)
        var target = a
        var other = b
        for layer in layers {
            layer.weights.withUnsafeBufferPointer { w in
                layer.bias.withUnsafeBufferPointer { bias in
                    // Validation guarantees non-empty tensors of exactly (out, in) and (out).
                    guard let w = w.baseAddress, let bias = bias.baseAddress else { return }
                    denseForward(input: current, batch: rows, inFeatures: layer.inFeatures,
                                 weights: w, bias: bias, outFeatures: layer.outFeatures,
                                 output: target)
                }
            }
            activationForward(layer.activation, target, rows: rows, width: layer.outFeatures)
            current = UnsafePointer(target)
            swap(&target, &other)
        }
        return UnsafeMutablePointer(mutating: current)
    }
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
        self.cStrings = try CStrings(name: name, producer: producer, labels: classLabels, metadata: metadata)
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

    init(name: String, producer: Producer, labels: [String], metadata: [(key: String, value: String)]) throws(ModelError) {
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
        self.labels = l
        self.metadataKeys = k
        self.metadataValues = v
        self.owned = owned
    }

    deinit {
        for p in owned { free(p) }
    }
}
