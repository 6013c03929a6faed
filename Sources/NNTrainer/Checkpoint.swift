// Checkpoints: everything needed to continue an interrupted training run exactly, written
// atomically and durably (temporary file, fsync, rename, fsync of the directory: NNModel's
// `writeFileAtomically`) after every epoch, within epochs as the schedule says, and when the
// host stops the run.
//
// File format (version 3; all integers little-endian):
//
//   offset 0   8 bytes   magic "NNRTCKPT"
//          8   u32       format version (3; version 2 is read too)
//         12   u32       number of sections
//         16   sections, each: 4-byte ASCII tag, u64 payload length, payload
//        end-4 u32       CRC-32 (zlib's, IEEE 802.3) of every byte before it
//
// Sections (each exactly once, in this order; readers reject unknown or missing ones):
//   CONF  the TrainingConfig, UTF-8 "key=value" lines ('%' and newlines %-escaped; numbers as
//         Swift prints them, which read back exactly)
//   STAT  the run's state, "key=value" lines: epochs done, eta, best accuracy and its epoch,
//         epochs since improvement and since the last schedule event, stop reason, initial
//         gradient norms, the command line; since version 3 also the position within the
//         current epoch ("epochPosition": examples of ORDR done, a multiple of the mini-batch
//         size, or empty between epochs) and that epoch's SGD seconds so far ("epochSeconds").
//         Version 2 (written only between epochs) has neither.
//   MODL  the network as an nnrt model file (`encodeModel`), with its whole epoch history, so
//         `nnrt inspect` can read it after `tail -c +N`, and the trainer rebuilds it exactly
//   VELO  momentum velocities, f32 each (empty without momentum)
//   BEST  the parameters of the best epoch so far, f32 each (empty unless keepBest)
//   ORDR  the training order, u32 each: within an epoch, that epoch's shuffled order; between
//         epochs, the last epoch's (the next epoch shuffles it again)
//   RNG   the shuffling/dropout generator's state: `SeededGenerator.state`, seven u64 (seed,
//         xoshiro256**'s four words, a 0/1 flag and the bit pattern of the spare normal value);
//         within an epoch, after the dropout masks of the mini-batches done

import CZlib
import Foundation
import NNModel

/// A snapshot of a training run between or within epochs (see the format at the top of
/// Checkpoint.swift).
public struct Checkpoint: Sendable {
    /// The configuration the run trains.
    public var config: TrainingConfig
    /// The command line that started the run.
    public var command: String
    /// Everything that changes during the run.
    var state: TrainingState

    /// The magic at the start of every checkpoint file.
    public static let magic: [UInt8] = Array("NNRTCKPT".utf8)
    /// The format version written (and the newest read).
    public static let version: UInt32 = 3
    /// The oldest format version read: version 2, written by nnrt before checkpoints within epochs.
    public static let oldestReadableVersion: UInt32 = 2
    /// The format version of the file this checkpoint was read from (`version` for a new one).
    public let formatVersion: UInt32

    init(config: TrainingConfig, state: TrainingState, command: String, formatVersion: UInt32 = Checkpoint.version) {
        self.config = config
        self.state = state
        self.command = command
        self.formatVersion = formatVersion
    }

    /// Epochs of `config` done when the checkpoint was written.
    public var epochsDone: Int { state.epochsDone }
    /// Where the run stood within an epoch (the epoch, counted over the whole history, and its
    /// mini-batches done); nil for a checkpoint between epochs.
    public var positionInEpoch: TrainingProgress? { state.positionInEpoch(config) }
    /// The network as it stood (its history included).
    public var network: Network { state.network }
    /// True if the run had nothing left to do (all epochs, or stopped by the schedule or early
    /// stopping): resuming it only builds the outcome.
    public var isFinished: Bool { state.isFinished(config) }

    /// The state to continue from.
    func trainingState() throws(TrainerError) -> TrainingState { state }

    // MARK: Writing

    /// The checkpoint's bytes.
    /// - Throws: `TrainerError.internal` if the network cannot be encoded as a model.
    public func encode() throws(TrainerError) -> [UInt8] {
        Checkpoint.assemble(version: Checkpoint.version, sections: try sections())
    }

    /// A checkpoint file of `sections` (tag, payload) under `version`: magic, version, section
    /// count, the sections, and the CRC-32 of all that.
    static func assemble(version: UInt32, sections: [(String, [UInt8])]) -> [UInt8] {
        var out = ByteWriter()
        out.bytes += Checkpoint.magic
        out.u32(version)
        out.u32(UInt32(sections.count))
        for (tag, payload) in sections {
            out.bytes += Array(tag.utf8)
            out.u64(UInt64(payload.count))
            out.bytes += payload
        }
        out.u32(crc32Of(out.bytes[...]))
        return out.bytes
    }

    /// Writes the checkpoint to `path` atomically and durably (`writeFileAtomically`: a temporary
    /// file beside it, fsync, rename, fsync of the directory), so an interruption at any point,
    /// SIGKILL or a power loss included, leaves the previous checkpoint or this one, never half a file.
    /// - Throws: `TrainerError.io` naming the path.
    public func write(to path: String) throws(TrainerError) {
        let bytes = try encode()
        do {
            try writeFileAtomically(bytes, to: path)
        } catch {
            throw TrainerError(.io, "cannot write checkpoint \(path): \(error.message)")
        }
    }

    private func sections() throws(TrainerError) -> [(String, [UInt8])] {
        // The history travels in the provenance (Network(model:) reads it back from there).
        let model = state.network.model(name: "checkpoint", provenance: Provenance())
        let modelBytes: [UInt8]
        do {
            modelBytes = try encodeModel(ModelFile(body: .network(model)))
        } catch {
            throw TrainerError(.internal, "cannot encode the network for a checkpoint: \(error.message)")
        }
        var order = ByteWriter()
        for i in state.order { order.u32(UInt32(truncatingIfNeeded: i)) }
        var velocity = ByteWriter()
        for v in state.optimizer.velocity { velocity.u32(v.bitPattern) }
        var best = ByteWriter()
        for v in state.bestParameters ?? [] { best.u32(v.bitPattern) }
        var rng = ByteWriter()
        for word in state.rng.state { rng.u64(word) }
        return [
            ("CONF", Array(KeyValues.encode(config.checkpointFields).utf8)),
            ("STAT", Array(KeyValues.encode(stateFields).utf8)),
            ("MODL", modelBytes),
            ("VELO", velocity.bytes),
            ("BEST", best.bytes),
            ("ORDR", order.bytes),
            ("RNG ", rng.bytes),
        ]
    }

    private var stateFields: [(String, String)] {
        [
            ("epochsDone", "\(state.epochsDone)"),
            ("eta", "\(state.eta)"),
            ("bestCorrect", state.bestCorrect.map(String.init) ?? ""),
            ("bestEpoch", state.bestEpoch.map(String.init) ?? ""),
            ("epochsSinceImprovement", "\(state.epochsSinceImprovement)"),
            ("epochsSinceScheduleEvent", "\(state.epochsSinceScheduleEvent)"),
            ("hasBestParameters", state.bestParameters == nil ? "0" : "1"),
            ("stopReason", state.stopReason ?? ""),
            ("stopped", state.stopReason == nil ? "0" : "1"),
            ("initialGradientNorms", state.initialGradientNorms.map { "\($0)" }.joined(separator: ",")),
            ("command", command),
            ("epochPosition", state.epochPosition.map(String.init) ?? ""),
            ("epochSeconds", "\(state.epochSeconds)"),
        ]
    }

    // MARK: Reading

    /// Reads and checks the checkpoint at `path`.
    /// - Throws: `TrainerError.io` if it cannot be read, `.format` if it is not a checkpoint, is
    ///   damaged (CRC mismatch) or inconsistent.
    public static func read(path: String) throws(TrainerError) -> Checkpoint {
        let bytes: [UInt8]
        do {
            bytes = try readFileBytes(path: path, limit: 1 << 34)
        } catch {
            throw TrainerError(.io, "cannot read checkpoint \(path): \(error.message)")
        }
        do {
            return try decode(bytes)
        } catch {
            throw TrainerError(error.kind, "checkpoint \(path): \(error.message)")
        }
    }

    /// Decodes and checks checkpoint bytes.
    /// - Throws: `TrainerError.format` for anything malformed, damaged or inconsistent.
    public static func decode(_ bytes: [UInt8]) throws(TrainerError) -> Checkpoint {
        guard bytes.count >= 20, Array(bytes[0..<8]) == magic else {
            throw TrainerError(.format, "not an nnrt checkpoint (no NNRTCKPT magic)")
        }
        var reader = ByteReader(bytes: bytes[..<(bytes.count - 4)])
        reader.offset = 8
        let stored = ByteReader(bytes: bytes[(bytes.count - 4)...]).peekU32()
        guard crc32Of(bytes[..<(bytes.count - 4)]) == stored else {
            throw TrainerError(.format, "damaged: its CRC-32 does not match its contents")
        }
        let version = try reader.u32()
        guard version >= Checkpoint.oldestReadableVersion && version <= Checkpoint.version else {
            throw TrainerError(.format, "format version \(version); this nnrt reads versions \(Checkpoint.oldestReadableVersion) to \(Checkpoint.version)"
                               + (version > Checkpoint.version ? " (the checkpoint was written by a newer nnrt)" : ""))
        }
        let count = try reader.u32()
        var sections: [String: ArraySlice<UInt8>] = [:]
        for _ in 0..<count {
            let tag = String(decoding: try reader.take(4), as: UTF8.self)
            let length = try reader.u64()
            guard length <= UInt64(reader.remaining) else { throw TrainerError(.format, "section \(tag) runs past the end") }
            guard sections[tag] == nil else { throw TrainerError(.format, "section \(tag) appears twice") }
            sections[tag] = try reader.take(Int(length))
        }
        guard reader.remaining == 0 else { throw TrainerError(.format, "\(reader.remaining) stray bytes after the sections") }
        func section(_ tag: String) throws(TrainerError) -> ArraySlice<UInt8> {
            guard let s = sections[tag] else { throw TrainerError(.format, "section \(tag) is missing") }
            return s
        }
        let known: Set<String> = ["CONF", "STAT", "MODL", "VELO", "BEST", "ORDR", "RNG "]
        if let unknown = sections.keys.first(where: { !known.contains($0) }) {
            throw TrainerError(.format, "unknown section '\(unknown)'")
        }

        let config = try TrainingConfig(checkpointFields: try KeyValues.decode(try section("CONF"), what: "CONF"))
        let stat = try KeyValues.decode(try section("STAT"), what: "STAT")
        func field(_ key: String) throws(TrainerError) -> String {
            guard let v = stat[key] else { throw TrainerError(.format, "STAT lacks '\(key)'") }
            return v
        }
        func int(_ key: String) throws(TrainerError) -> Int {
            guard let v = Int(try field(key)), v >= 0 else { throw TrainerError(.format, "STAT '\(key)' is not a count") }
            return v
        }
        func optionalInt(_ key: String) throws(TrainerError) -> Int? {
            let s = try field(key)
            if s.isEmpty { return nil }
            guard let v = Int(s) else { throw TrainerError(.format, "STAT '\(key)' is not a number") }
            return v
        }
        guard let eta = Double(try field("eta")), eta.isFinite, eta > 0 else {
            throw TrainerError(.format, "STAT 'eta' is not a positive number")
        }
        let normsText = try field("initialGradientNorms")
        var norms: [Double] = []
        for part in normsText.split(separator: ",") {
            guard let v = Double(part) else { throw TrainerError(.format, "STAT 'initialGradientNorms' holds '\(part)'") }
            norms.append(v)
        }

        let modelBytes = Array(try section("MODL"))
        let modelFile: ModelFile
        do {
            modelFile = try decodeModel(modelBytes)
        } catch {
            throw TrainerError(.format, "its network: \(error.message)")
        }
        guard case .network(let model) = modelFile.body else {
            throw TrainerError(.format, "its network section holds an ensemble")
        }
        // A network the trainer cannot rebuild (a cost its output layer does not allow, ...) is a
        // damaged checkpoint too: the trainer wrote only networks it trains.
        let network: Network
        do {
            network = try Network(model: model)
        } catch {
            throw TrainerError(.format, "its network: \(error.message)")
        }
        let velocity = try floats(try section("VELO"), what: "VELO")
        guard velocity.isEmpty || velocity.count == network.parameters.count else {
            throw TrainerError(.format, "VELO holds \(velocity.count) velocities for \(network.parameters.count) parameters")
        }
        let best = try floats(try section("BEST"), what: "BEST")
        let hasBest = try field("hasBestParameters") == "1"
        guard !hasBest || best.count == network.parameters.count else {
            throw TrainerError(.format, "BEST holds \(best.count) values for \(network.parameters.count) parameters")
        }
        let orderBytes = try section("ORDR")
        guard orderBytes.count % 4 == 0 else { throw TrainerError(.format, "ORDR is not a whole number of u32") }
        var orderReader = ByteReader(bytes: orderBytes)
        var order: [Int] = []
        order.reserveCapacity(orderBytes.count / 4)
        while orderReader.remaining > 0 { order.append(Int(try orderReader.u32())) }
        // The order must be a permutation of 0..<count.
        var seen = [Bool](repeating: false, count: order.count)
        for i in order {
            guard i < order.count, !seen[i] else { throw TrainerError(.format, "ORDR is not a permutation") }
            seen[i] = true
        }
        let rngBytes = try section("RNG ")
        guard rngBytes.count == 7 * 8 else {
            throw TrainerError(.format, "its generator state has \(rngBytes.count) bytes, expected 56")
        }
        var rngReader = ByteReader(bytes: rngBytes)
        var words: [UInt64] = []
        for _ in 0..<7 { words.append(try rngReader.u64()) }
        guard let rng = SeededGenerator(state: words) else {
            throw TrainerError(.format, "its generator state is not a valid xoshiro256** state")
        }
        guard rng.seed == config.seed else {
            throw TrainerError(.format, "its generator state does not belong to seed \(config.seed)")
        }
        let stopReason = try field("stopped") == "1" ? try field("stopReason") : nil
        // The position within an epoch (version 3; a version-2 checkpoint is between epochs).
        var epochPosition: Int? = nil
        var epochSeconds = 0.0
        if version >= 3 {
            let positionText = try field("epochPosition")
            if !positionText.isEmpty {
                guard let k = Int(positionText), k >= 0, k < order.count, k % config.miniBatchSize == 0 else {
                    throw TrainerError(.format, "STAT 'epochPosition' \(positionText) is not a mini-batch boundary within the \(order.count) examples of ORDR")
                }
                guard stopReason == nil, try int("epochsDone") < config.epochs else {
                    throw TrainerError(.format, "STAT places a finished run within an epoch")
                }
                epochPosition = k
            }
            guard let t = Double(try field("epochSeconds")), t.isFinite, t >= 0 else {
                throw TrainerError(.format, "STAT 'epochSeconds' is not a number of seconds")
            }
            epochSeconds = t
        }
        let state = TrainingState(network: network, optimizer: OptimizerState(velocity: velocity), rng: rng,
                                  order: order, eta: eta, bestCorrect: try optionalInt("bestCorrect"),
                                  bestEpoch: try optionalInt("bestEpoch"),
                                  epochsSinceImprovement: try int("epochsSinceImprovement"),
                                  epochsSinceScheduleEvent: try int("epochsSinceScheduleEvent"),
                                  bestParameters: hasBest ? best : nil, epochsDone: try int("epochsDone"),
                                  initialGradientNorms: norms, stopReason: stopReason,
                                  epochPosition: epochPosition, epochSeconds: epochSeconds)
        return Checkpoint(config: config, state: state, command: try field("command"), formatVersion: version)
    }

    private static func floats(_ bytes: ArraySlice<UInt8>, what: String) throws(TrainerError) -> [Float] {
        guard bytes.count % 4 == 0 else { throw TrainerError(.format, "\(what) is not a whole number of f32") }
        var r = ByteReader(bytes: bytes)
        var out: [Float] = []
        out.reserveCapacity(bytes.count / 4)
        while r.remaining > 0 { out.append(Float(bitPattern: try r.u32())) }
        return out
    }
}

/// The checkpoint path for the model file `output`: "OUT.checkpoint".
public func checkpointPath(forOutput output: String) -> String { output + ".checkpoint" }

/// Removes the checkpoint at `path`, if any (after the model is safely written).
public func removeCheckpoint(at path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

// MARK: Encoding helpers

/// zlib's CRC-32 of `bytes`.
func crc32Of(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: uLong = crc32(0, nil, 0)
    bytes.withUnsafeBufferPointer { buf in
        var p = buf.baseAddress
        var left = buf.count
        while left > 0, let base = p {
            let n = min(left, Int(UInt32.max >> 1))
            crc = crc32(crc, base, uInt(n))
            p = base + n
            left -= n
        }
    }
    return UInt32(truncatingIfNeeded: crc)
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
}

struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var offset = 0
    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws(TrainerError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw TrainerError(.format, "truncated") }
        let start = bytes.startIndex + offset
        offset += n
        return bytes[start ..< start + n]
    }

    func peekU32() -> UInt32 {
        var v: UInt32 = 0
        for (i, b) in bytes.prefix(4).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        return v
    }

    mutating func u32() throws(TrainerError) -> UInt32 {
        let b = try take(4)
        var v: UInt32 = 0
        for (i, x) in b.enumerated() { v |= UInt32(x) << (8 * UInt32(i)) }
        return v
    }

    mutating func u64() throws(TrainerError) -> UInt64 {
        let b = try take(8)
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }
}

/// "key=value" lines with '%', '=' in keys never, and newlines in values %-escaped.
enum KeyValues {
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let escaped = value.replacingOccurrences(of: "%", with: "%25")
                .replacingOccurrences(of: "\n", with: "%0A").replacingOccurrences(of: "\r", with: "%0D")
            return "\(key)=\(escaped)\n"
        }.joined()
    }

    static func decode(_ bytes: ArraySlice<UInt8>, what: String) throws(TrainerError) -> [String: String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TrainerError(.format, "\(what) is not UTF-8")
        }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { throw TrainerError(.format, "\(what): line '\(line)' has no '='") }
            let value = String(line[line.index(after: eq)...]).replacingOccurrences(of: "%0A", with: "\n")
                .replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%25", with: "%")
            out[String(line[..<eq])] = value
        }
        return out
    }
}

extension TrainingConfig {
    /// Every field as text, for checkpoints.
    var checkpointFields: [(String, String)] {
        [
            ("sizes", sizes.map(String.init).joined(separator: ",")),
            ("architecture", architecture ?? ""),
            ("hasArchitecture", architecture == nil ? "0" : "1"),
            ("activation", activation.name),
            ("cost", cost.name),
            ("eta", "\(eta)"),
            ("lambda", "\(lambda)"),
            ("regularization", "\(regularization.rawValue)"),
            ("momentum", "\(momentum)"),
            ("miniBatchSize", "\(miniBatchSize)"),
            ("epochs", "\(epochs)"),
            ("weightInit", weightInit.name),
            ("seed", "\(seed)"),
            ("monitor", "\(monitor.rawValue)"),
            ("trainingLimit", trainingLimit.map(String.init) ?? ""),
            ("evaluationSet", evaluationSet.rawValue),
            ("preset", preset ?? ""),
            ("hasPreset", preset == nil ? "0" : "1"),
            ("schedulePatience", "\(schedulePatience)"),
            ("scheduleFactor", "\(scheduleFactor)"),
            ("scheduleStopFraction", "\(scheduleStopFraction)"),
            ("earlyStoppingPatience", "\(earlyStoppingPatience)"),
            ("keepBest", keepBest ? "1" : "0"),
            ("expansion", expansion),
            ("gradientNorms", gradientNorms ? "1" : "0"),
            ("monitorTest", monitorTest ? "1" : "0"),
        ]
    }

    /// The configuration from `checkpointFields`.
    init(checkpointFields f: [String: String]) throws(TrainerError) {
        func get(_ key: String) throws(TrainerError) -> String {
            guard let v = f[key] else { throw TrainerError(.format, "CONF lacks '\(key)'") }
            return v
        }
        func bad(_ key: String) -> TrainerError { TrainerError(.format, "CONF '\(key)' has a bad value '\(f[key] ?? "")'") }
        func double(_ key: String) throws(TrainerError) -> Double {
            guard let v = Double(try get(key)) else { throw bad(key) }
            return v
        }
        func int(_ key: String) throws(TrainerError) -> Int {
            guard let v = Int(try get(key)) else { throw bad(key) }
            return v
        }
        func flag(_ key: String) throws(TrainerError) -> Bool { try get(key) == "1" }
        var sizes: [Int] = []
        for part in try get("sizes").split(separator: ",") {
            guard let v = Int(part) else { throw bad("sizes") }
            sizes.append(v)
        }
        guard let activation = Activation.allCases.first(where: { $0.name == f["activation"] }) else { throw bad("activation") }
        guard let cost = CostKind.allCases.first(where: { $0.name == f["cost"] }) else { throw bad("cost") }
        guard let weightInit = WeightInit.allCases.first(where: { $0.name == f["weightInit"] }) else { throw bad("weightInit") }
        guard let regRaw = Int32(try get("regularization")), let regularization = Regularization(rawValue: regRaw) else {
            throw bad("regularization")
        }
        guard let seed = UInt64(try get("seed")) else { throw bad("seed") }
        guard let evaluationSet = EvaluationSet(rawValue: try get("evaluationSet")) else { throw bad("evaluationSet") }
        let limitText = try get("trainingLimit")
        var trainingLimit: Int? = nil
        if !limitText.isEmpty {
            guard let v = Int(limitText) else { throw bad("trainingLimit") }
            trainingLimit = v
        }
        self.init(sizes: sizes, cost: cost, eta: try double("eta"), lambda: try double("lambda"),
                  miniBatchSize: try int("miniBatchSize"), epochs: try int("epochs"), weightInit: weightInit, seed: seed,
                  monitor: Monitor(rawValue: try int("monitor")), trainingLimit: trainingLimit,
                  evaluationSet: evaluationSet, preset: try flag("hasPreset") ? try get("preset") : nil,
                  architecture: try flag("hasArchitecture") ? try get("architecture") : nil, activation: activation,
                  regularization: regularization, momentum: try double("momentum"),
                  schedulePatience: try int("schedulePatience"), scheduleFactor: try double("scheduleFactor"),
                  scheduleStopFraction: try double("scheduleStopFraction"),
                  earlyStoppingPatience: try int("earlyStoppingPatience"), keepBest: try flag("keepBest"),
                  expansion: try get("expansion"), gradientNorms: try flag("gradientNorms"),
                  monitorTest: try flag("monitorTest"))
        do {
            try validate()
        } catch {
            throw TrainerError(.format, "CONF: \(error.message)")
        }
    }
}
