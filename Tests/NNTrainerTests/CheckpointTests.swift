import Foundation
import Testing
import NNModel
@testable import NNTrainer

/// Checkpoints: an interrupted run resumes to bit-identical weights; damage is detected.
@Suite struct CheckpointTests {

    @Test func resumingAfterTwoEpochsGivesTheSameWeightsAsFour() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let path = dir + "/run.checkpoint", atTwo = dir + "/two.checkpoint"
        let full = try train(statefulCheckpointConfig(), data: data, checkpointPath: path, observer: { e in
            if case .checkpointWritten(2, let p) = e { try? FileManager.default.copyItem(atPath: p, toPath: atTwo) }
        })
        let partial = try Checkpoint.read(path: atTwo)
        #expect(partial.epochsDone == 2 && !partial.isFinished)
        #expect(partial.config == statefulCheckpointConfig())
        let resumed = try resumeTraining(from: atTwo, data: data)
        #expect(resumed.network.parameters == full.network.parameters)
        #expect(resumed.network.history.map(\.eta) == full.network.history.map(\.eta))
        #expect(resumed.network.history.map(\.evaluation) == full.network.history.map(\.evaluation))
        #expect(resumed.selectedEpoch == full.selectedEpoch)
        #expect(resumed.epochsTrained == 4)

        // The last checkpoint holds a finished run: resuming it only rebuilds the outcome.
        let last = try Checkpoint.read(path: path)
        #expect(last.isFinished)
        #expect(try resumeTraining(from: path, data: data).network.parameters == full.network.parameters)
        removeCheckpoint(at: path)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func encodingRoundTripsTheState() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 30)
        let path = dir + "/c.checkpoint"
        _ = try train(statefulCheckpointConfig(), data: data, checkpointPath: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(8)) == Array("NNRTCKPT".utf8))
        let c = try Checkpoint.decode(bytes)
        // Equal state after a round trip (bytes may differ only in the generator's padding).
        let again = try Checkpoint.decode(try c.encode())
        #expect(again.state == c.state)
        #expect(again.config == c.config && again.command == c.command)
        #expect(c.network.history.count == 4)
    }

    @Test func damageIsDetected() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 30)
        var config = statefulCheckpointConfig()
        config.epochs = 1
        let path = dir + "/c.checkpoint"
        _ = try train(config, data: data, checkpointPath: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        for bad in [flipped, Array(bytes.prefix(bytes.count - 9)), Array("NOTACKPT".utf8) + bytes.dropFirst(8), []] {
            #expect {
                _ = try Checkpoint.decode(bad)
            } throws: { error in
                (error as? TrainerError)?.kind == .format
            }
        }
        #expect(throws: TrainerError.self) { try Checkpoint.read(path: dir + "/missing") }
    }
}
