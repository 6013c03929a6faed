// The seed corpus of fuzz-checkpoint: checkpoints written by the trainer itself, from short runs
// of small networks on a synthetic MNIST-shaped data set (a few dozen examples), so every section
// is present and real: with momentum velocities and best-epoch parameters, and without.
import FuzzSupport
import NNModel
import NNTrainer
#if canImport(Glibc)
import Glibc
#endif

/// A data set of `count` 28x28 images: noise plus a bar whose row encodes the label.
func toyData(_ count: Int, _ name: String, seed: UInt64) -> Dataset {
    var rng = SeedRNG(seed)
    var images = [Float](repeating: 0, count: count * 784)
    var labels = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        let k = Int(rng.next() % 10)
        labels[i] = UInt8(k)
        for p in 0..<784 { images[i * 784 + p] = abs(rng.float()) * 0.3 }
        for r in (2 * k)..<(2 * k + 2) { for c in 4..<24 { images[i * 784 + r * 28 + c] = 1 } }
    }
    do throws(TrainerError) {
        return try Dataset(name: "mnist:" + name, inputSize: 784, images: images, labels: labels)
    } catch {
        violated("toy data: \(error.message)")
    }
}

func checkpointSeeds() -> [(name: String, bytes: [UInt8])] {
    let data = MNISTData(training: toyData(24, "train[0:24]", seed: 1), validation: toyData(10, "validation", seed: 2),
                         test: toyData(10, "t10k", seed: 3))
    var stateful = TrainingConfig(sizes: [784, 10], cost: .logLikelihood, eta: 0.1, lambda: 0.5, miniBatchSize: 6,
                                  epochs: 3, seed: 9, evaluationSet: .validation)
    stateful.architecture = "convpool1x5p4,fc3:relu:drop0.5,softmax10"
    stateful.momentum = 0.5
    stateful.schedulePatience = 1
    stateful.keepBest = true
    stateful.monitorTest = true
    stateful.expansion = "rotate:5"
    var plain = TrainingConfig(sizes: [784, 10], cost: .logLikelihood, eta: 0.5, miniBatchSize: 8, epochs: 1, seed: 4)
    plain.architecture = "convpool1x9p5,softmax10"
    plain.regularization = .l1
    plain.lambda = 0.1
    plain.earlyStoppingPatience = 2

    var seeds: [(name: String, bytes: [UInt8])] = []
    var template = Array("/tmp/nnrt-fuzz-checkpoint-XXXXXX".utf8CString)
    guard let dir = mkdtemp(&template) else { violated("cannot create a temporary directory") }
    let base = String(cString: dir)
    defer { rmdir(base) }
    for (name, config) in [("momentum-best-dropout", stateful), ("plain-l1-finished", plain)] {
        let path = base + "/" + name + ".checkpoint"
        do throws(TrainerError) {
            // Keep the checkpoint of every epoch: each is a seed.
            var epoch = 0
            _ = try train(config, data: data, command: "nnrt train (fuzz seed)", checkpointPath: path, observer: { event in
                guard case .checkpointWritten(let n, let p) = event else { return }
                epoch = n
                if let bytes = readAll(p) { seeds.append(("\(name)-epoch\(epoch).checkpoint", bytes)) }
            })
            removeCheckpoint(at: path)
        } catch {
            violated("seed run \(name): \(error.message)")
        }
    }
    return seeds
}

func readAll(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return out
}
