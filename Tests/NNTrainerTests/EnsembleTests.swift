import Testing
import NNModel
@testable import NNTrainer

/// `trainEnsemble`: members from seed, seed+1, ..., independent of the thread count.
@Suite struct EnsembleTests {
    @Test func threadCountDoesNotChangeTheMembers() throws {
        let data = try toyMNIST(training: 60)
        var config = TrainingConfig(sizes: [784, 6, 10], eta: 0.5, epochs: 2, seed: 11, evaluationSet: .validation)
        config.architecture = "fc6:relu:drop0.25,softmax10"
        config.cost = .logLikelihood
        let one = try trainEnsemble(config, members: 3, data: data, threads: 1)
        let two = try trainEnsemble(config, members: 3, data: data, threads: 2)
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

    @Test func badMemberCountsAreRejected() throws {
        let data = try toyMNIST(training: 20)
        #expect(throws: TrainerError.self) { try trainEnsemble(TrainingConfig(), members: 0, data: data) }
        #expect(throws: TrainerError.self) { try trainEnsemble(TrainingConfig(), members: 2, data: data, threads: 0) }
    }
}
