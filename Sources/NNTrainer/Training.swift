// One call that runs a whole training configuration on MNIST: pick the data, initialise (or
// continue) the network, run SGD with monitoring, and build the model with its provenance.

import Foundation
import NNModel

/// What `train` produces.
public struct TrainingOutcome: Sendable {
    /// The trained network (its `history` holds every epoch, earlier ones included).
    public var network: Network
    /// The network as a model, with provenance, ready for `writeModelFile`.
    public var model: NetworkModel
    /// The data it was trained on (the training split, limited by `trainingLimit`).
    public var trainingData: Dataset
    /// The data the evaluation monitors used, if any.
    public var evaluationData: Dataset?
}

/// Trains a network on MNIST as `config` says.
///
/// - Parameters:
///   - config: hyperparameters, seed, monitors, training limit and evaluation set.
///   - data: MNIST as `MNIST.load` returns it.
///   - continuing: a model to continue training instead of a fresh network. Its layer sizes and
///     cost are kept (`config.sizes`, `config.cost` and `config.weightInit` are then ignored) and
///     new epochs are numbered after the ones in its provenance.
///   - command: the command line, recorded in the provenance.
///   - observer: receives progress and end-of-epoch events.
/// - Throws: `TrainerError` for an invalid configuration or a model that cannot be trained.
public func train(_ config: TrainingConfig, data: MNISTData, continuing: NetworkModel? = nil,
                  command: String = "", observer: ((TrainingEvent) -> Void)? = nil) throws(TrainerError) -> TrainingOutcome {
    try config.validate()
    var rng = SeededGenerator(seed: config.seed)
    var network: Network
    if let continuing {
        network = try Network(model: continuing)
    } else {
        network = try Network(sizes: config.sizes, cost: config.cost, weightInit: config.weightInit, rng: &rng)
    }
    let trainingData = config.trainingLimit.map { data.training.prefix($0) } ?? data.training
    let evaluationData: Dataset? = switch config.evaluationSet {
    case .validation: data.validation
    case .test: data.test
    case .none: nil
    }
    try network.sgd(trainingData: trainingData, epochs: config.epochs, miniBatchSize: config.miniBatchSize,
                    eta: config.eta, lambda: config.lambda, evaluationData: evaluationData,
                    monitor: config.monitor, rng: &rng, observer: observer)
    func split(_ d: Dataset?) -> String {
        guard let d else { return "" }
        return d.name.hasPrefix("mnist:") ? String(d.name.dropFirst("mnist:".count)) : d.name
    }
    let provenance = Provenance.training(config: config, sizes: network.sizes, cost: network.cost,
                                         trainingExamples: trainingData.count,
                                         trainingSplit: split(trainingData), evaluationSplit: split(evaluationData),
                                         history: network.history, command: command)
    let model = network.model(provenance: provenance)
    return TrainingOutcome(network: network, model: model, trainingData: trainingData, evaluationData: evaluationData)
}
