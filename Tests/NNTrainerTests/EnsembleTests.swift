import Testing
import Foundation
import NNModel
@testable import NNTrainer

/// `trainEnsemble`: members from seed, seed+1, ..., independent of the thread count.
@Suite struct EnsembleTests {
    @Test func threadCountDoesNotChangeTheMembers() throws {
        let data = try toyMNIST(training: 60)
        // fc320 makes the network heavy enough to split its mini-batches over two threads
        // (`Topology.partCount`); with 2 threads, the third member takes over the first
        // finished member's thread part-way through its run.
        var config = TrainingConfig(sizes: [784, 320, 10], eta: 0.5, epochs: 2, seed: 11, evaluationSet: .validation)
        config.architecture = "fc320:relu:drop0.25,softmax10"
        config.cost = .logLikelihood
        let one = try trainEnsemble(config, members: 3, data: data, threads: 1)
        let two = try trainEnsemble(config, members: 3, data: data, threads: 2)
        #expect(one[0].network.topology.partCount == 2)
        #expect(one.count == 3 && two.count == 3)
        for k in 0..<3 {
            #expect(one[k].network.parameters == two[k].network.parameters, "member \(k)")
            #expect(one[k].model.provenance?.seed == 11 + UInt64(k))
        }
        #expect(one[0].network.parameters != one[1].network.parameters)
        var alone = config
        alone.seed = 12
        #expect(try train(alone, data: data).network.parameters == one[1].network.parameters)
        let model = ensembleModel(one, name: "e", voting: .majority)
        #expect(model.members.count == 3 && model.voting == .majority)
    }

    @Test func aThreadCountChangedBetweenMiniBatchesTrainsTheSame() throws {
        let data = try toyMNIST(training: 60)
        var config = TrainingConfig(sizes: [784, 320, 10], eta: 0.5, epochs: 2, seed: 3, evaluationSet: .validation)
        config.architecture = "fc320:relu:drop0.25,softmax10"
        config.cost = .logLikelihood
        let plain = try train(config, data: data, threads: 1)
        #expect(plain.network.topology.partCount == 2)
        let prepared = try PreparedData(config: config, data: data)
        var state = try TrainingState.start(config: config, prepared: prepared, continuing: nil, observer: nil)
        // The share alternates every third question, so stretches of the epoch run on 1 and on
        // 2 threads.
        var asked = 0
        var used: Set<Int> = []
        let outcome = try runTraining(config: config, prepared: prepared, state: &state, command: "",
                                      checkpointPath: nil,
                                      threadShare: {
                                          asked += 1
                                          let t = asked % 3 == 0 ? 2 : 1
                                          used.insert(t)
                                          return t
                                      }, observer: nil)
        #expect(asked > 12 && used == [1, 2])
        #expect(outcome.network.parameters == plain.network.parameters)
    }

    @Test func badMemberCountsAreRejected() throws {
        let data = try toyMNIST(training: 20)
        #expect(throws: TrainerError.self) { try trainEnsemble(TrainingConfig(), members: 0, data: data) }
        #expect(throws: TrainerError.self) { try trainEnsemble(TrainingConfig(), members: 2, data: data, threads: 0) }
    }
}

/// Ensemble checkpoints: every member's start is written before training, and resuming finished
/// members rebuilds the same outcomes.
@Suite struct EnsembleCheckpointTests {
    @Test func existingMemberCheckpointsAreFoundWithGaps() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let base = dir + "/e.nnrt.checkpoint"
        for name in ["e.nnrt.checkpoint.member1", "e.nnrt.checkpoint.member3", "e.nnrt.checkpoint.member10",
                     "e.nnrt.checkpoint.member02", "e.nnrt.checkpoint.member0", "e.nnrt.checkpoint.member3.tmp-x1",
                     "f.nnrt.checkpoint.member2", "e.nnrt.checkpoint"] {
            #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data()))
        }
        #expect(existingEnsembleCheckpoints(base: base) == [0, 2, 9])
        #expect(existingEnsembleCheckpoints(base: dir + "/none.nnrt.checkpoint") == [])
        #expect(existingEnsembleCheckpoints(base: dir + "/missing-folder/e.nnrt.checkpoint") == [])
    }

    @Test func membersResumeFromTheirCheckpoints() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let data = try toyMNIST(training: 40)
        let config = TrainingConfig(sizes: [784, 6, 10], eta: 0.5, epochs: 2, seed: 5, evaluationSet: .validation)
        let base = dir + "/e.nnrt.checkpoint"
        let first = try trainEnsemble(config, members: 2, data: data, threads: 2, checkpointBase: base)
        for k in 0..<2 {
            let c = try Checkpoint.read(path: ensembleCheckpointPath(base: base, member: k))
            #expect(c.isFinished && c.config.seed == 5 + UInt64(k))
        }
        let again = try trainEnsemble(config, members: 2, data: data, threads: 1, checkpointBase: base, resume: true)
        #expect(again.map(\.network.parameters) == first.map(\.network.parameters))
        // A member whose checkpoint is gone starts afresh and comes out the same.
        removeCheckpoint(at: ensembleCheckpointPath(base: base, member: 1))
        let third = try trainEnsemble(config, members: 2, data: data, threads: 1, checkpointBase: base, resume: true)
        #expect(third.map(\.network.parameters) == first.map(\.network.parameters))
    }
}
