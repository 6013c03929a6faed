import Foundation
import Testing
import NNModel
@testable import NNTrainer

/// Checkpoints: an interrupted run resumes to bit-identical weights; damage is detected.
@Suite struct CheckpointTests {
    /// Everything that carries state between epochs: momentum, dropout, a schedule, keep-best,
    /// per-epoch distortions.
    func statefulConfig() -> TrainingConfig {
        var c = TrainingConfig(sizes: [784, 10], cost: .logLikelihood, eta: 0.2, lambda: 0.5, miniBatchSize: 10,
                               epochs: 4, seed: 21, evaluationSet: .validation)
        c.architecture = "fc12:relu:drop0.5,softmax10"
        c.momentum = 0.6
        c.schedulePatience = 1
        c.keepBest = true
        c.expansion = "rotate:5"
        c.monitorTest = true
        return c
    }

    @Test func resumingAfterTwoEpochsGivesTheSameWeightsAsFour() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 80, noise: 1)
        let path = dir + "/run.checkpoint", atTwo = dir + "/two.checkpoint"
        let full = try train(statefulConfig(), data: data, checkpointPath: path, observer: { e in
            if case .checkpointWritten(2, let p) = e { try? FileManager.default.copyItem(atPath: p, toPath: atTwo) }
        })
        let partial = try Checkpoint.read(path: atTwo)
        #expect(partial.epochsDone == 2 && !partial.isFinished)
        #expect(partial.config == statefulConfig())
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
        _ = try train(statefulConfig(), data: data, checkpointPath: path)
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
        var config = statefulConfig()
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
