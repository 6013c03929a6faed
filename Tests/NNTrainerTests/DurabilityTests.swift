import Foundation
import Synchronization
import Testing
import NNModel
@testable import NNTrainer

/// A `shouldStop` hook that says stop from its `stopAt`-th poll on (counting every poll).
final class StopAfterPolls: Sendable {
    let stopAt: Int
    let polls = Atomic<Int>(0)
    init(_ stopAt: Int) { self.stopAt = stopAt }
    var hook: @Sendable () -> Bool { { self.polls.add(1, ordering: .relaxed).newValue >= self.stopAt } }
}

/// The per-epoch history without the wall times (which differ between runs).
func historyWithoutTimes(_ network: Network) -> [EpochMetrics] {
    network.history.map { e in
        var e = e
        e.seconds = 0
        return e
    }
}

/// The sections of checkpoint bytes, and the bytes rebuilt from sections (with a fresh CRC).
enum CheckpointBytes {
    static func split(_ bytes: [UInt8]) throws -> (version: UInt32, sections: [(String, [UInt8])]) {
        var r = ByteReader(bytes: bytes[..<(bytes.count - 4)])
        r.offset = 8
        let version = try r.u32()
        let count = try r.u32()
        var sections: [(String, [UInt8])] = []
        for _ in 0..<count {
            let tag = String(decoding: try r.take(4), as: UTF8.self)
            let length = Int(try r.u64())
            sections.append((tag, Array(try r.take(length))))
        }
        return (version, sections)
    }

    /// `bytes` with STAT's lines passed through `edit` (and the CRC recomputed).
    static func editingSTAT(_ bytes: [UInt8], version: UInt32? = nil,
                            _ edit: ([String]) -> [String]) throws -> [UInt8] {
        let (v, sections) = try split(bytes)
        let edited = sections.map { tag, payload -> (String, [UInt8]) in
            guard tag == "STAT" else { return (tag, payload) }
            let lines = String(decoding: payload, as: UTF8.self).split(separator: "\n").map(String.init)
            return (tag, Array(edit(lines).map { $0 + "\n" }.joined().utf8))
        }
        return Checkpoint.assemble(version: version ?? v, sections: edited)
    }
}

/// Durability: checkpoints within epochs, stopping through the `shouldStop` hook at any
/// mini-batch boundary, and resuming to bit-identical weights and history.
@Suite struct DurabilityTests {
    func expectSameRun(_ a: TrainingOutcome, _ b: TrainingOutcome, _ note: Comment) {
        #expect(a.network.parameters == b.network.parameters, note)
        #expect(historyWithoutTimes(a.network) == historyWithoutTimes(b.network), note)
        #expect(a.selectedEpoch == b.selectedEpoch && a.stopReason == b.stopReason, note)
        #expect(a.epochsTrained == b.epochsTrained, note)
        #expect(a.bestEpoch?.epoch == b.bestEpoch?.epoch, note)
    }

    /// Stopping at the n-th poll of `shouldStop`: polls come before the first epoch, after every
    /// mini-batch but an epoch's last, and after every epoch (8 per epoch here).
    @Test(arguments: [1, 2, 5, 8, 9, 10, 19, 27, 32])
    func stoppingAnywhereThenResumingGivesTheUninterruptedRun(stopAt: Int) throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let full = try train(statefulCheckpointConfig(), data: data)
        let path = dir + "/run.checkpoint"
        let stop = StopAfterPolls(stopAt)
        #expect {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, checkpointSchedule: .whenStopped,
                          shouldStop: stop.hook)
        } throws: { error in
            guard let e = error as? TrainerError else { return false }
            return e.kind == .interrupted && e.message.contains(path)
        }
        let checkpoint = try Checkpoint.read(path: path)
        #expect(checkpoint.formatVersion == Checkpoint.version)
        // Poll 1: before the first epoch; 2..8: after mini-batch 1..7 of epoch 1; 9: after
        // epoch 1; 10: after mini-batch 1 of epoch 2; ...
        let epochsDone = (stopAt - 1) / 8
        let withinEpoch = (stopAt - 1) % 8
        #expect(checkpoint.epochsDone == epochsDone)
        if withinEpoch == 0 {
            #expect(checkpoint.positionInEpoch == nil)
        } else {
            #expect(checkpoint.positionInEpoch == TrainingProgress(epoch: epochsDone + 1, miniBatchesDone: withinEpoch,
                                                                   miniBatchesTotal: 8))
        }
        let resumed = try resumeTraining(from: path, data: data)
        expectSameRun(resumed, full, "stopped at poll \(stopAt)")
    }

    @Test func stoppingTwiceThenResumingGivesTheUninterruptedRun() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let full = try train(statefulCheckpointConfig(), data: data)
        let path = dir + "/run.checkpoint"
        // Poll 4: after mini-batch 3 of epoch 1.
        do throws(TrainerError) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, shouldStop: StopAfterPolls(4).hook)
            Issue.record("the first run was not stopped")
        } catch { #expect(error.kind == .interrupted) }
        // Resumed: poll 1 first, 2...5 after mini-batches 4...7 of epoch 1, 6 after it, 7...13
        // after mini-batches 1...7 of epoch 2: poll 11 is after its mini-batch 5.
        do throws(TrainerError) {
            _ = try resumeTraining(from: path, data: data, shouldStop: StopAfterPolls(11).hook)
            Issue.record("the resumed run was not stopped")
        } catch { #expect(error.kind == .interrupted) }
        let position = try #require(try Checkpoint.read(path: path).positionInEpoch)
        #expect(position.epoch == 2 && position.miniBatchesDone == 5)
        expectSameRun(try resumeTraining(from: path, data: data), full, "stopped twice")
    }

    @Test func scheduledCheckpointsWithinEpochsResumeExactly() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let path = dir + "/run.checkpoint", copy = dir + "/epoch2-batch6.checkpoint"
        var within: [TrainingProgress] = []
        var after: [Int] = []
        let full = try train(statefulCheckpointConfig(), data: data, checkpointPath: path,
                             checkpointSchedule: CheckpointSchedule(everyMiniBatches: 3), observer: { event in
            switch event {
            case .checkpointWrittenWithinEpoch(let p, let written):
                within.append(p)
                if p.epoch == 2 && p.miniBatchesDone == 6 { try? FileManager.default.copyItem(atPath: written, toPath: copy) }
            case .checkpointWritten(let epoch, _): after.append(epoch)
            default: break
            }
        })
        #expect(within.map(\.miniBatchesDone) == [3, 6, 3, 6, 3, 6, 3, 6])
        #expect(within.map(\.epoch) == [1, 1, 2, 2, 3, 3, 4, 4])
        #expect(after == [1, 2, 3, 4])
        let checkpoint = try Checkpoint.read(path: copy)
        #expect(checkpoint.positionInEpoch == TrainingProgress(epoch: 2, miniBatchesDone: 6, miniBatchesTotal: 8))
        expectSameRun(try resumeTraining(from: copy, data: data), full, "from epoch 2, mini-batch 6")

        // Pausing for checkpoints changes nothing.
        let plain = try train(statefulCheckpointConfig(), data: data)
        expectSameRun(full, plain, "every 3 mini-batches")

        // By time: with a tiny interval, a checkpoint at every mini-batch boundary.
        var timed = 0
        let everyBatch = try train(statefulCheckpointConfig(), data: data, checkpointPath: path,
                      checkpointSchedule: CheckpointSchedule(afterEveryEpoch: false, everySeconds: 1e-9), observer: { event in
            if case .checkpointWrittenWithinEpoch = event { timed += 1 }
            if case .checkpointWritten = event { Issue.record("an epoch checkpoint without afterEveryEpoch") }
        })
        #expect(timed == 4 * 7)
        expectSameRun(everyBatch, plain, "after every mini-batch")
        #expect(throws: TrainerError.self) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointSchedule: CheckpointSchedule(everyMiniBatches: 0))
        }
        #expect(throws: TrainerError.self) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointSchedule: CheckpointSchedule(everySeconds: -1))
        }
    }

    @Test func aCheckpointWithinAnEpochRoundTrips() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let path = dir + "/run.checkpoint"
        #expect(throws: TrainerError.self) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, shouldStop: StopAfterPolls(13).hook)
        }
        let bytes = try readFileBytes(path: path, limit: 1 << 30)
        let c = try Checkpoint.decode(bytes)
        #expect(c.state.epochPosition == 40 && c.state.epochSeconds > 0)   // poll 13: epoch 2, mini-batch 4
        let again = try Checkpoint.decode(try c.encode())
        #expect(again.state == c.state)
        #expect(again.config == c.config && again.command == c.command)
        // No temporary files are left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["run.checkpoint"])
    }

    @Test func aVersion2CheckpointIsStillRead() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let full = try train(statefulCheckpointConfig(), data: data)
        let path = dir + "/run.checkpoint"
        #expect(throws: TrainerError.self) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, shouldStop: StopAfterPolls(17).hook)
        }
        // Version 2 is version 3 between epochs without the two position fields.
        let v3 = try readFileBytes(path: path, limit: 1 << 30)
        #expect(try Checkpoint.decode(v3).positionInEpoch == nil)
        let v2 = try CheckpointBytes.editingSTAT(v3, version: 2) { lines in
            lines.filter { !$0.hasPrefix("epochPosition=") && !$0.hasPrefix("epochSeconds=") }
        }
        let old = try Checkpoint.decode(v2)
        #expect(old.formatVersion == 2 && old.epochsDone == 2 && old.positionInEpoch == nil)
        try Data(v2).write(to: URL(fileURLWithPath: path))
        expectSameRun(try resumeTraining(from: path, data: data), full, "version 2")

        for version: UInt32 in [1, 4] {
            let bytes = try CheckpointBytes.editingSTAT(v3, version: version) { $0 }
            #expect {
                _ = try Checkpoint.decode(bytes)
            } throws: { error in
                guard let e = error as? TrainerError else { return false }
                return e.kind == .format && e.message.contains("format version \(version)") && e.message.contains("2 to 3")
            }
        }
    }

    @Test func damagedOrTruncatedCheckpointsAreRejectedClearly() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let path = dir + "/run.checkpoint"
        #expect(throws: TrainerError.self) {
            _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, shouldStop: StopAfterPolls(12).hook)
        }
        let bytes = try readFileBytes(path: path, limit: 1 << 30)
        func rejected(_ bad: [UInt8], _ message: String) -> Bool {
            do {
                _ = try Checkpoint.decode(bad)
                return false
            } catch {
                return error.kind == .format && !error.message.isEmpty && (message.isEmpty || error.message.contains(message))
            }
        }
        // Truncated anywhere (as a crash during a non-atomic copy would leave it).
        var lengths = Array(0..<24) + [bytes.count - 1, bytes.count - 4, bytes.count - 5]
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<40 { lengths.append(24 + rng.nextInt(below: bytes.count - 24)) }
        for n in lengths {
            let isRejected = rejected(Array(bytes.prefix(n)), n < 20 ? "magic" : "")
            #expect(isRejected, "truncated to \(n) of \(bytes.count) bytes")
        }
        #expect(rejected(Array(bytes.prefix(bytes.count / 2)), "CRC-32"))
        // One flipped bit.
        var flipped = bytes
        flipped[bytes.count / 3] ^= 0x08
        #expect(rejected(flipped, "CRC-32"))
        // Positions that are not a mini-batch boundary within the order, or a finished run
        // placed within an epoch (consistent CRC: only the checks can catch them).
        for (position, message) in [("35", "epochPosition"), ("80", "epochPosition"), ("-10", "epochPosition"),
                                    ("x", "epochPosition")] {
            let bad = try CheckpointBytes.editingSTAT(bytes) { lines in
                lines.map { $0.hasPrefix("epochPosition=") ? "epochPosition=\(position)" : $0 }
            }
            #expect(rejected(bad, message), "epochPosition=\(position)")
        }
        let finished = try CheckpointBytes.editingSTAT(bytes) { lines in
            lines.map { $0.hasPrefix("epochsDone=") ? "epochsDone=4" : $0 }
        }
        #expect(rejected(finished, "finished run within an epoch"))
        let missing = try CheckpointBytes.editingSTAT(bytes) { lines in lines.filter { !$0.hasPrefix("epochSeconds=") } }
        #expect(rejected(missing, "epochSeconds"))
        // From a file: the message names it.
        let damaged = dir + "/damaged.checkpoint"
        try Data(bytes.prefix(bytes.count - 100)).write(to: URL(fileURLWithPath: damaged))
        #expect {
            _ = try Checkpoint.read(path: damaged)
        } throws: { error in
            (error as? TrainerError)?.message.hasPrefix("checkpoint \(damaged): ") == true
        }
    }

    @Test func checkpointsGoThroughTheAtomicWriter() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 40)
        var config = statefulCheckpointConfig()
        config.epochs = 1
        #expect {
            _ = try train(config, data: data, checkpointPath: dir + "/missing/run.checkpoint")
        } throws: { error in
            guard let e = error as? TrainerError else { return false }
            return e.kind == .io && e.message.contains("cannot write checkpoint \(dir)/missing/run.checkpoint")
        }
        // Without a path, stopping saves nothing but still stops.
        #expect {
            _ = try train(config, data: data, shouldStop: { true })
        } throws: { error in
            (error as? TrainerError)?.kind == .interrupted
        }
    }

    /// An ensemble stopped through the hook (members on two threads, one not yet started)
    /// leaves a checkpoint for every member, and resuming gives the uninterrupted ensemble.
    @Test(arguments: [1, 4, 11, 25])
    func aStoppedEnsembleResumesExactly(stopAt: Int) throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 40)
        var config = TrainingConfig(sizes: [784, 6, 10], eta: 0.5, epochs: 3, seed: 5, evaluationSet: .validation)
        config.architecture = "fc6:drop0.2,fc10"
        let full = try trainEnsemble(config, members: 3, data: data, threads: 2)
        let base = dir + "/e.nnrt.checkpoint"
        #expect {
            _ = try trainEnsemble(config, members: 3, data: data, threads: 2, checkpointBase: base,
                                  checkpointSchedule: .whenStopped, shouldStop: StopAfterPolls(stopAt).hook)
        } throws: { error in
            (error as? TrainerError)?.kind == .interrupted
        }
        for k in 0..<3 {
            let c = try Checkpoint.read(path: ensembleCheckpointPath(base: base, member: k))
            #expect(c.config.seed == 5 + UInt64(k))
        }
        let resumed = try trainEnsemble(config, members: 3, data: data, threads: 2, checkpointBase: base, resume: true)
        #expect(resumed.map(\.network.parameters) == full.map(\.network.parameters), "stopped at poll \(stopAt)")
        #expect(resumed.map { historyWithoutTimes($0.network) } == full.map { historyWithoutTimes($0.network) })
    }
}
