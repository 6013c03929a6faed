// The seed corpus of fuzz-model: small valid model files of every layer kind and format version,
// written with the project's own encoder (encodeModel), so every seed loads.
import FuzzSupport
import NNModel

func modelSeeds() -> [(name: String, bytes: [UInt8])] {
    var rng = SeedRNG(7)
    func dense(_ name: String, _ inputs: Int, _ outputs: Int, _ activation: Activation, dropout: Float = 0) -> Layer {
        .dense(name: name, inputs: inputs, outputs: outputs, activation: activation,
               weights: rng.floats(inputs * outputs), bias: rng.floats(outputs), dropout: dropout)
    }
    func convLayer(_ name: String, _ input: [Int], maps: Int, kernel: [Int], _ activation: Activation) -> Layer {
        .conv2d(name: name, input: input, maps: maps, kernel: kernel, activation: activation,
                weights: rng.floats(maps * input[0] * kernel[0] * kernel[1]), bias: rng.floats(maps))
    }
    func labels(_ n: Int) -> [String] { (0..<n).map(String.init) }
    func grey(_ side: Int, box: Int, polarity: Polarity = .lightOnDark,
              centring: ImageNormalization.Centring = .centreOfMass) -> InputContract {
        InputContract(shape: [1, side, side], scale: 1.0 / 255.0, offset: 0, polarity: polarity,
                      image: ImageNormalization(method: .mnistDigit, boxSize: box, centring: centring))
    }

    // Version 1: dense layers only.
    let v1Sigmoid = NetworkModel(name: "v1-sigmoid", layers: [dense("fc1", 6, 4, .sigmoid), dense("fc2", 4, 3, .sigmoid)],
                                 classLabels: labels(3),
                                 input: InputContract(shape: [1, 1, 6], scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark),
                                 cost: .quadratic)
    var v1Full = NetworkModel(name: "v1-full", layers: [dense("fc1", 16, 5, .relu), dense("out", 5, 3, .softmax)],
                              classLabels: ["a", "b", "c"], input: grey(4, box: 3, polarity: .darkOnLight, centring: .boundingBox),
                              cost: .logLikelihood)
    var p = Provenance()
    p.dataset = "mnist"
    p.trainingSplit = "train[0:50000]"
    p.evaluationSplit = "train[50000:60000]"
    p.hyperparameters = Hyperparameters(sizes: [16, 5, 3], cost: .logLikelihood, eta: 0.5, lambda: 5.0, miniBatchSize: 10,
                                        epochs: 2, weightInit: .scaledNormal, trainingExamples: 50000)
    p.seed = 42
    p.epochs = [EpochMetrics(epoch: 1, training: SplitMetrics(total: 50000, cost: 0.5, correct: 45000),
                             evaluation: SplitMetrics(total: 10000, correct: 9100), seconds: 1.25)]
    p.createdAt = "2024-01-02T03:04:05Z"
    p.command = "nnrt train"
    v1Full.provenance = p
    v1Full.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 10000, cost: 0.1, correct: 9542))]
    let v1Tanh = NetworkModel(name: "tanh-linear", layers: [dense("fc1", 9, 3, .tanh), dense("fc2", 3, 2, .linear)],
                              classLabels: ["no", "yes"], input: grey(3, box: 2), cost: .crossEntropy)

    // Version 2: convolution, pooling, dropout.
    let convNet = NetworkModel(name: "conv", layers: [
        convLayer("conv1", [1, 8, 8], maps: 2, kernel: [3, 3], .relu),           // -> [2, 6, 6]
        .maxPool2d(name: "pool1", input: [2, 6, 6], pool: [2, 2]),          // -> [2, 3, 3]
        dense("fc1", 18, 4, .sigmoid, dropout: 0.5),
        dense("out", 4, 3, .softmax, dropout: 0.25),
    ], classLabels: labels(3), input: grey(8, box: 6), cost: .logLikelihood)
    let convTwoChannel = NetworkModel(name: "conv2ch", layers: [
        convLayer("conv1", [2, 7, 6], maps: 3, kernel: [3, 2], .tanh),          // -> [3, 5, 5]
        .maxPool2d(name: "pool1", input: [3, 5, 5], pool: [2, 3], activation: .relu), // -> [3, 2, 1]
        dense("out", 6, 2, .sigmoid),
    ], classLabels: labels(2), input: InputContract(shape: [2, 7, 6], scale: 0.5, offset: -1, polarity: .lightOnDark),
       cost: .crossEntropy)
    let poolFirst = NetworkModel(name: "pool-first", layers: [
        .maxPool2d(name: "pool", input: [1, 6, 6], pool: [3, 3]),          // -> [1, 2, 2]
        dense("out", 4, 2, .softmax),
    ], classLabels: labels(2), input: grey(6, box: 4), cost: .logLikelihood)
    let convOnly = NetworkModel(name: "conv-only", layers: [
        convLayer("conv", [1, 4, 4], maps: 2, kernel: [4, 4], .linear),         // -> [2, 1, 1]
    ], classLabels: labels(2), input: grey(4, box: 4), cost: .quadratic)
    let dropout = NetworkModel(name: "dropout", layers: [dense("fc1", 4, 3, .relu, dropout: 0.3), dense("out", 3, 2, .softmax)],
                               classLabels: labels(2),
                               input: InputContract(shape: [4], scale: 1, offset: 0, polarity: .lightOnDark), cost: .logLikelihood)

    func file(_ body: ModelBody, metadata: [(key: String, value: String)] = []) -> ModelFile {
        ModelFile(producer: Producer(name: "nnrt", version: NNRTVersion.string), metadata: metadata, body: body)
    }
    let memberB = NetworkModel(name: "b", layers: [dense("fc1", 6, 4, .relu), dense("fc2", 4, 3, .softmax)],
                               classLabels: labels(3), input: v1Sigmoid.input, cost: .logLikelihood)
    let models: [(String, ModelFile)] = [
        ("v1-dense-sigmoid.nnrt", file(.network(v1Sigmoid))),
        ("v1-dense-provenance.nnrt", file(.network(v1Full), metadata: [("author", "fuzz"), ("dataset", "mnist")])),
        ("v1-dense-tanh-linear.nnrt", file(.network(v1Tanh))),
        ("v2-conv-pool-dropout-softmax.nnrt", file(.network(convNet))),
        ("v2-conv-two-channels.nnrt", file(.network(convTwoChannel))),
        ("v2-pool-first.nnrt", file(.network(poolFirst))),
        ("v2-conv-only.nnrt", file(.network(convOnly))),
        ("v2-dense-dropout.nnrt", file(.network(dropout))),
        ("v1-ensemble-majority.nnrt", file(.ensemble(EnsembleModel(name: "pair", members: [v1Sigmoid, memberB], voting: .majority)))),
        ("v2-ensemble-mean.nnrt", file(.ensemble(EnsembleModel(
            name: "convs", members: [convNet, convNet], voting: .meanProbability,
            evaluations: [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 10, correct: 9))])))),
    ]
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (name, model) in models {
        do throws(ModelError) {
            seeds.append((name, try encodeModel(model)))
        } catch {
            violated("seed \(name) does not encode: \(error.message)")
        }
    }
    return seeds
}
