import Foundation
import Testing
@testable import NNTrainer

@Suite struct IDXTests {
    @Test(arguments: [true, false])
    func roundTripGzAndRaw(gzip: Bool) throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let images = IDX.Array(dimensions: [3, 2, 2], bytes: Array(0..<12))
        let path = dir + (gzip ? "/img.gz" : "/img")
        try IDX.write(images, to: path, gzip: gzip)
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect((raw.prefix(2) == Data([0x1f, 0x8b])) == gzip)
        #expect(try IDX.read(path: path, rank: 3) == images)
        let limited = try IDX.read(path: path, rank: 3, limit: 2)
        #expect(limited.dimensions == [2, 2, 2])
        #expect(limited.bytes == Array(0..<8))
    }

    @Test func badMagicTruncatedAndMissing() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        let labels = dir + "/labels.gz"
        try IDX.write(IDX.Array(dimensions: [4], bytes: [1, 2, 3, 4]), to: labels, gzip: true)
        // Labels read as images: wrong magic.
        #expect {
            try IDX.read(path: labels, rank: 3)
        } throws: { e in
            let m = (e as? TrainerError)?.message ?? ""
            return m.contains(labels) && m.contains("magic") && m.contains("0x00000803")
        }
        // Truncated data: header says 4, only 2 bytes follow.
        let truncated = dir + "/trunc"
        try Data([0, 0, 8, 1, 0, 0, 0, 4, 7, 7]).write(to: URL(fileURLWithPath: truncated))
        #expect {
            try IDX.read(path: truncated, rank: 1)
        } throws: { e in
            let m = (e as? TrainerError)?.message ?? ""
            return m.contains(truncated) && m.contains("truncated")
        }
        // Truncated header.
        let short = dir + "/short"
        try Data([0, 0, 8, 3, 0, 0]).write(to: URL(fileURLWithPath: short))
        #expect(throws: TrainerError.self) { try IDX.read(path: short, rank: 3) }
        // Trailing garbage.
        let long = dir + "/long"
        try Data([0, 0, 8, 1, 0, 0, 0, 1, 7, 9]).write(to: URL(fileURLWithPath: long))
        #expect(throws: TrainerError.self) { try IDX.read(path: long, rank: 1) }
        // Missing file.
        #expect {
            try IDX.read(path: dir + "/nope", rank: 1)
        } throws: { e in ((e as? TrainerError)?.message ?? "").contains("cannot open") }
    }

    @Test func datasetScalingAndSlicing() throws {
        let d = try Dataset(name: "mnist:train[0:4]", inputSize: 2, pixels: [0, 255, 51, 102, 0, 0, 255, 255][...],
                            labels: [1, 2, 3, 4][...])
        #expect(d.count == 4)
        #expect(d.images[1] == 1.0)
        #expect(abs(d.images[2] - 0.2) < 1e-7)
        let s = d.subset(1..<3)
        #expect(s.labels == [2, 3])
        #expect(s.name == "mnist:train[1:3]")
        #expect(Array(s.input(1)) == [0, 0])
        #expect(d.prefix(2).labels == [1, 2])
        #expect(d.prefix(10).count == 4)
        #expect(try d.subset(indices: [3, 0]).labels == [4, 1])
        #expect(throws: TrainerError.self) { try d.subset(indices: [4]) }
        #expect(throws: TrainerError.self) { try Dataset(inputSize: 3, images: [1, 2], labels: [0]) }
    }
}

/// A fake MNIST distribution: `train` training and `test` test images of 28x28.
private func writeFakeMNIST(to dir: String, train: Int, test: Int) throws {
    func images(_ n: Int, _ seed: Int) -> IDX.Array {
        IDX.Array(dimensions: [n, 28, 28], bytes: (0..<(n * 784)).map { UInt8(($0 &* 7 &+ seed) % 256) })
    }
    try IDX.write(images(train, 1), to: dir + "/train-images-idx3-ubyte.gz", gzip: true)
    try IDX.write(IDX.Array(dimensions: [train], bytes: (0..<train).map { UInt8($0 % 10) }), to: dir + "/train-labels-idx1-ubyte.gz", gzip: true)
    try IDX.write(images(test, 2), to: dir + "/t10k-images-idx3-ubyte.gz", gzip: true)
    try IDX.write(IDX.Array(dimensions: [test], bytes: (0..<test).map { UInt8(($0 + 3) % 10) }), to: dir + "/t10k-labels-idx1-ubyte.gz", gzip: true)
}

@Suite struct MNISTTests {
    @Test func locatingOrder() {
        let env = ["MNIST_DIR": "/env/dir", "HOME": "/home/u"]
        #expect(MNIST.source(directory: "/explicit", environment: env) == .directory("/explicit"))
        #expect(MNIST.source(directory: nil, environment: env) == .directory("/env/dir"))
        #expect(MNIST.source(directory: nil, environment: ["HOME": "/home/u"]) == .cache("/home/u/.cache/nnrt/mnist"))
        #expect(MNIST.source(directory: nil, environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == .cache("/x/nnrt/mnist"))
        #expect(MNIST.source(directory: nil, environment: ["NNRT_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"]) == .cache("/c"))
        #expect(MNIST.mirrors(environment: [:]) == MNIST.defaultMirrors)
        #expect(MNIST.mirrors(environment: ["NNRT_MNIST_MIRRORS": "file:///a/, https://b/x "]) == ["file:///a/", "https://b/x"])
    }

    @Test func loadFromDirectoryWithSplit() throws {
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        try writeFakeMNIST(to: dir, train: 12, test: 5)
        // Uncompressed test labels are accepted too.
        try FileManager.default.removeItem(atPath: dir + "/t10k-labels-idx1-ubyte.gz")
        try IDX.write(IDX.Array(dimensions: [5], bytes: [3, 4, 5, 6, 7]), to: dir + "/t10k-labels-idx1-ubyte", gzip: false)
        let data = try MNIST.load(directory: dir, split: MNISTSplit(trainingCount: 8, validationCount: 4), environment: [:])
        #expect(data.training.count == 8)
        #expect(data.validation.count == 4)
        #expect(data.test.count == 5)
        #expect(data.training.inputSize == 784)
        #expect(data.validation.labels == [8, 9, 0, 1])
        #expect(data.test.labels == [3, 4, 5, 6, 7])
        #expect(data.training.name == "mnist:train[0:8]")
        #expect(data.validation.name == "mnist:train[8:12]")
        #expect(data.training.images[1] == Float(8) / 255)
        // The book's split needs 60,000 training images.
        #expect {
            try MNIST.load(directory: dir, environment: [:])
        } throws: { e in ((e as? TrainerError)?.message ?? "").contains("the split needs") }
        // A missing file is named.
        #expect {
            try MNIST.load(directory: dir + "/empty", environment: [:])
        } throws: { e in ((e as? TrainerError)?.message ?? "").contains("train-images-idx3-ubyte.gz") }
    }

    @Test func fetchVerifyCacheThroughFileMirrors() throws {
        let root = makeTempDir()
        defer { removeTemp(root) }
        let good = root + "/good", bad = root + "/bad", cache = root + "/cache/mnist"
        try FileManager.default.createDirectory(atPath: good, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try writeFakeMNIST(to: good, train: 3, test: 2)
        // The bad mirror serves corrupted copies.
        for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: good + "/" + name))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: bad + "/" + name))
        }
        let file = MNISTFile(name: "train-images-idx3-ubyte",
                             sha256: try SHA256.hexDigest(ofFile: good + "/train-images-idx3-ubyte.gz"))
        let mirrors = ["file://" + root + "/missing/", "file://" + bad + "/", "file://" + good]
        var log: [String] = []
        let path = try MNIST.fetch(file, into: cache, mirrors: mirrors, log: { log.append($0) })
        #expect(path == cache + "/train-images-idx3-ubyte.gz")
        #expect(try SHA256.hexDigest(ofFile: path) == file.sha256)
        #expect(log.count == 3)
        // No temp files are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.contains("download") }
        #expect(leftovers.isEmpty)

        // Cached: reused without touching any mirror.
        log = []
        #expect(try MNIST.fetch(file, into: cache, mirrors: [], log: { log.append($0) }) == path)
        #expect(log.isEmpty)

        // A corrupted cached file is detected, deleted and downloaded again.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try MNIST.fetch(file, into: cache, mirrors: ["file://" + good], log: nil) == path)
        #expect(try SHA256.hexDigest(ofFile: path) == file.sha256)

        // Every mirror fails: the error lists each one and why.
        let other = MNISTFile(name: "t10k-images-idx3-ubyte", sha256: String(repeating: "0", count: 64))
        #expect {
            try MNIST.fetch(other, into: cache, mirrors: mirrors, log: nil)
        } throws: { e in
            let m = (e as? TrainerError)?.message ?? ""
            return (e as? TrainerError)?.kind == .download && m.contains(root + "/missing/") && m.contains("no such file")
                && m.contains(bad + "/") && m.contains("SHA-256 mismatch") && m.contains(good + "/t10k")
        }
        #expect(!FileManager.default.fileExists(atPath: cache + "/t10k-images-idx3-ubyte.gz"))
    }

    @Test func defaultHashesAreTheKnownOnes() {
        #expect(MNIST.files.map(\.gzName) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
        #expect(MNIST.trainImages.sha256 == "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971")
        #expect(MNIST.testLabels.sha256 == "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b")
    }

    @Test func sharedDataMatchesKnownHashes() throws {
        guard let dir = ProcessInfo.processInfo.environment["MNIST_DIR"] else {
            print("skipping: MNIST_DIR is not set")
            return
        }
        // Hash the small label files only (debug builds hash slowly).
        for f in [MNIST.trainLabels, MNIST.testLabels] {
            let path = dir + "/" + f.gzName
            guard FileManager.default.fileExists(atPath: path) else { continue }
            #expect(try SHA256.hexDigest(ofFile: path) == f.sha256)
        }
    }
}
