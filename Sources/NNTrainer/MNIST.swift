// MNIST as the book uses it (mnist_loader.py): 28x28 grey images scaled to 0...1, white digit on
// black, with the 60,000 training images split into training = train[0:50000] and
// validation = train[50000:60000], and test = the 10,000 t10k images.
//
// Where the files come from, first match wins:
//   1. an explicit directory (e.g. the CLI's --data-dir),
//   2. the MNIST_DIR environment variable,
//   3. a cache folder: $NNRT_CACHE_DIR, else $XDG_CACHE_HOME/nnrt/mnist, else ~/.cache/nnrt/mnist.
// Only the cache is ever written to: missing files are downloaded from mirrors (env
// NNRT_MNIST_MIRRORS, comma-separated base URLs, overrides the default list), verified against
// their known SHA-256 and renamed into place.

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation

/// One file of the MNIST distribution.
public struct MNISTFile: Sendable, Equatable {
    /// The name without ".gz", e.g. "train-images-idx3-ubyte".
    public var name: String
    /// SHA-256 (lower-case hex) of the gzipped file as the mirrors serve it.
    public var sha256: String

    public init(name: String, sha256: String) {
        self.name = name
        self.sha256 = sha256
    }

    /// The name the mirrors use, e.g. "train-images-idx3-ubyte.gz".
    public var gzName: String { name + ".gz" }
}

/// The three splits of MNIST the book uses.
public struct MNISTData: Sendable {
    /// train[0:50000] (by default).
    public var training: Dataset
    /// train[50000:60000] (by default): the book's validation_data.
    public var validation: Dataset
    /// t10k: the book's test_data.
    public var test: Dataset

    public init(training: Dataset, validation: Dataset, test: Dataset) {
        self.training = training
        self.validation = validation
        self.test = test
    }
}

/// How the 60,000 training images are divided (`mnist_loader.load_data`).
public struct MNISTSplit: Sendable, Equatable {
    /// Images train[0:trainingCount] form the training set.
    public var trainingCount: Int
    /// Images train[trainingCount : trainingCount+validationCount] form the validation set.
    public var validationCount: Int
    /// Read at most this many test images (nil: all 10,000).
    public var testLimit: Int?

    public init(trainingCount: Int = 50_000, validationCount: Int = 10_000, testLimit: Int? = nil) {
        self.trainingCount = trainingCount
        self.validationCount = validationCount
        self.testLimit = testLimit
    }

    /// The book's split: 50,000 / 10,000 / 10,000.
    public static let book = MNISTSplit()
}

/// Finding, downloading, verifying and loading MNIST.
public enum MNIST {
    public static let trainImages = MNISTFile(
        name: "train-images-idx3-ubyte", sha256: "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971")
    public static let trainLabels = MNISTFile(
        name: "train-labels-idx1-ubyte", sha256: "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203")
    public static let testImages = MNISTFile(
        name: "t10k-images-idx3-ubyte", sha256: "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be")
    public static let testLabels = MNISTFile(
        name: "t10k-labels-idx1-ubyte", sha256: "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b")
    /// The four files, in the order they are fetched.
    public static let files = [trainImages, trainLabels, testImages, testLabels]

    /// Mirrors tried in order when `NNRT_MNIST_MIRRORS` is not set.
    public static let defaultMirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]

    /// Where the files are read from.
    public enum Source: Sendable, Equatable {
        /// A directory given explicitly or by MNIST_DIR: read only, never written.
        case directory(String)
        /// The download cache: missing or corrupt files are fetched from mirrors.
        case cache(String)

        public var path: String {
            switch self {
            case .directory(let p), .cache(let p): p
            }
        }
    }

    /// Paths of the four files once located.
    public struct Paths: Sendable, Equatable {
        public var trainImages: String
        public var trainLabels: String
        public var testImages: String
        public var testLabels: String
    }

    /// Picks the source: `directory` if given, else `MNIST_DIR`, else the cache folder.
    public static func source(directory: String?, environment: [String: String]) -> Source {
        if let directory, !directory.isEmpty { return .directory(directory) }
        if let dir = environment["MNIST_DIR"], !dir.isEmpty { return .directory(dir) }
        return .cache(cacheDirectory(environment: environment))
    }

    /// The cache folder: `$NNRT_CACHE_DIR` (used as is), else `$XDG_CACHE_HOME/nnrt/mnist`,
    /// else `~/.cache/nnrt/mnist`.
    public static func cacheDirectory(environment: [String: String]) -> String {
        if let d = environment["NNRT_CACHE_DIR"], !d.isEmpty { return d }
        if let x = environment["XDG_CACHE_HOME"], !x.isEmpty { return x + "/nnrt/mnist" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/nnrt/mnist"
    }

    /// The mirror list: `NNRT_MNIST_MIRRORS` (comma-separated base URLs) or `defaultMirrors`.
    public static func mirrors(environment: [String: String]) -> [String] {
        if let list = environment["NNRT_MNIST_MIRRORS"] {
            let parsed = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !parsed.isEmpty { return parsed }
        }
        return defaultMirrors
    }

    /// Locates the four files, downloading into the cache if that is the source.
    ///
    /// - Parameters:
    ///   - directory: an explicit directory (wins over everything else).
    ///   - environment: the process environment (injectable for tests).
    ///   - log: receives one line per notable step ("downloading ... from ...").
    public static func locate(directory: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              log: ((String) -> Void)? = nil) throws(TrainerError) -> Paths {
        switch source(directory: directory, environment: environment) {
        case .directory(let dir):
            func find(_ f: MNISTFile) throws(TrainerError) -> String {
                let dotted = f.name.replacingOccurrences(of: "-idx", with: ".idx")
                for candidate in [f.gzName, f.name, dotted + ".gz", dotted] {
                    let p = dir + "/" + candidate
                    if FileManager.default.isReadableFile(atPath: p) { return p }
                }
                throw TrainerError(.io, "MNIST file \(f.gzName) (or \(f.name)) not found in \(dir)")
            }
            return Paths(trainImages: try find(trainImages), trainLabels: try find(trainLabels),
                         testImages: try find(testImages), testLabels: try find(testLabels))
        case .cache(let dir):
            let mirrorList = mirrors(environment: environment)
            var paths: [String] = []
            for f in files {
                paths.append(try fetch(f, into: dir, mirrors: mirrorList, log: log))
            }
            return Paths(trainImages: paths[0], trainLabels: paths[1], testImages: paths[2], testLabels: paths[3])
        }
    }

    /// Loads MNIST with the book's split (or `split`), from wherever `locate` finds it.
    ///
    /// - Parameters:
    ///   - directory: explicit data directory, else MNIST_DIR, else the download cache.
    ///   - split: how to divide the training file; `MNISTSplit(trainingCount: 10_000,
    ///     validationCount: 0)` reads only the first 10,000 training images.
    public static func load(directory: String? = nil, split: MNISTSplit = .book,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            log: ((String) -> Void)? = nil) throws(TrainerError) -> MNISTData {
        let paths = try locate(directory: directory, environment: environment, log: log)
        return try load(paths: paths, split: split)
    }

    /// Loads MNIST from known file paths.
    public static func load(paths: Paths, split: MNISTSplit = .book) throws(TrainerError) -> MNISTData {
        guard split.trainingCount >= 0, split.validationCount >= 0 else {
            throw TrainerError(.invalidArgument, "MNIST split sizes must not be negative")
        }
        let wanted = split.trainingCount + split.validationCount
        let train = try loadPair(images: paths.trainImages, labels: paths.trainLabels, limit: wanted)
        guard train.labels.count >= wanted else {
            throw TrainerError(.format,
                               "\(paths.trainImages): has \(train.labels.count) images, the split needs \(split.trainingCount) training + \(split.validationCount) validation")
        }
        let test = try loadPair(images: paths.testImages, labels: paths.testLabels, limit: split.testLimit)
        let t = split.trainingCount
        return MNISTData(
            training: try Dataset(name: "mnist:train[0:\(t)]", inputSize: 784,
                                  pixels: train.pixels[0 ..< t * 784], labels: train.labels[0..<t]),
            validation: try Dataset(name: "mnist:train[\(t):\(wanted)]", inputSize: 784,
                                    pixels: train.pixels[t * 784 ..< wanted * 784], labels: train.labels[t..<wanted]),
            test: try Dataset(name: test.labels.count == 10_000 ? "mnist:t10k" : "mnist:t10k[0:\(test.labels.count)]",
                              inputSize: 784, pixels: test.pixels[...], labels: test.labels[...]))
    }

    /// Reads an images file and its labels file (at most `limit` of each) and checks that they
    /// agree: 28x28 images, as many images as labels, labels 0...9.
    /// - Throws: `TrainerError` naming the file and what is wrong with it.
    public static func readPair(images: String, labels: String, limit: Int? = nil) throws(TrainerError)
        -> (pixels: [UInt8], labels: [UInt8]) {
        try loadPair(images: images, labels: labels, limit: limit)
    }

    /// Reads an images file and its labels file and checks that they agree.
    private static func loadPair(images: String, labels: String, limit: Int?) throws(TrainerError)
        -> (pixels: [UInt8], labels: [UInt8]) {
        let img = try IDX.read(path: images, rank: 3, limit: limit)
        let lab = try IDX.read(path: labels, rank: 1, limit: limit)
        guard img.dimensions[1] == 28, img.dimensions[2] == 28 else {
            throw TrainerError(.format, "\(images): images are \(img.dimensions[1])x\(img.dimensions[2]), MNIST needs 28x28")
        }
        guard img.dimensions[0] == lab.dimensions[0] else {
            throw TrainerError(.format, "\(images) holds \(img.dimensions[0]) images but \(labels) holds \(lab.dimensions[0]) labels")
        }
        if let bad = lab.bytes.firstIndex(where: { $0 > 9 }) {
            throw TrainerError(.format, "\(labels): label \(lab.bytes[bad]) at index \(bad) is not a digit 0...9")
        }
        return (img.bytes, lab.bytes)
    }

    // MARK: Download cache

    /// Makes sure `file` is in `cacheDir` with the right SHA-256 and returns its path.
    ///
    /// A cached file is hashed the first time it is seen; a stamp file (".<name>.verified",
    /// recording hash, size and modification time) lets later runs skip re-hashing until the file
    /// changes. A cached file with the wrong hash is deleted and downloaded again. A download goes
    /// to a temp file in `cacheDir`, is verified, then renamed into place; a bad hash deletes the
    /// temp file and moves on to the next mirror.
    ///
    /// - Throws: `TrainerError.download` listing every mirror tried and why it failed.
    public static func fetch(_ file: MNISTFile, into cacheDir: String, mirrors: [String],
                             log: ((String) -> Void)? = nil) throws(TrainerError) -> String {
        let fm = FileManager.default
        let target = cacheDir + "/" + file.gzName
        let stamp = cacheDir + "/." + file.gzName + ".verified"
        if fm.fileExists(atPath: target) {
            if let s = try? String(contentsOfFile: stamp, encoding: .utf8), s == stampText(file, target) {
                return target
            }
            let digest = try SHA256.hexDigest(ofFile: target)
            if digest == file.sha256 {
                try? stampText(file, target).write(toFile: stamp, atomically: true, encoding: .utf8)
                return target
            }
            log?("\(target): cached file has SHA-256 \(digest), expected \(file.sha256); downloading it again")
            try? fm.removeItem(atPath: target)
            try? fm.removeItem(atPath: stamp)
        }
        do {
            try fm.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        } catch {
            throw TrainerError(.io, "\(cacheDir): cannot create the MNIST cache directory (\(error.localizedDescription))")
        }
        var failures: [String] = []
        for mirror in mirrors {
            let base = mirror.hasSuffix("/") ? mirror : mirror + "/"
            let urlString = base + file.gzName
            let temp = cacheDir + "/." + file.gzName + ".download-\(getpid())"
            try? fm.removeItem(atPath: temp)
            log?("downloading \(file.gzName) from \(urlString)")
            if let problem = download(urlString, to: temp) {
                try? fm.removeItem(atPath: temp)
                failures.append("\(urlString): \(problem)")
                continue
            }
            let digest: String
            do {
                digest = try SHA256.hexDigest(ofFile: temp)
            } catch {
                try? fm.removeItem(atPath: temp)
                failures.append("\(urlString): \(error.message)")
                continue
            }
            guard digest == file.sha256 else {
                try? fm.removeItem(atPath: temp)
                failures.append("\(urlString): SHA-256 mismatch (got \(digest), expected \(file.sha256))")
                continue
            }
            guard rename(temp, target) == 0 else {
                try? fm.removeItem(atPath: temp)
                throw TrainerError(.io, "\(target): cannot move the verified download into place")
            }
            try? stampText(file, target).write(toFile: stamp, atomically: true, encoding: .utf8)
            return target
        }
        let detail = failures.isEmpty ? "no mirrors configured" : failures.joined(separator: "; ")
        throw TrainerError(.download,
                           "could not fetch \(file.gzName) into \(cacheDir) from \(mirrors.count) mirror(s): \(detail). "
                           + "Set MNIST_DIR to a directory holding the MNIST files, or NNRT_MNIST_MIRRORS to other mirrors.")
    }

    /// What the stamp file records for a verified cached file: hash, size and mtime.
    private static func stampText(_ file: MNISTFile, _ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "" }
        return "\(file.sha256) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n"
    }

    /// Copies `urlString` to the file `path`; returns a description of the problem, or nil.
    private static func download(_ urlString: String, to path: String) -> String? {
        guard let url = URL(string: urlString), let scheme = url.scheme?.lowercased() else {
            return "not a valid URL"
        }
        if scheme == "file" {
            do {
                try FileManager.default.copyItem(atPath: url.path, toPath: path)
                return nil
            } catch {
                return FileManager.default.fileExists(atPath: url.path) ? "copy failed (\(error.localizedDescription))" : "no such file"
            }
        }
        guard scheme == "http" || scheme == "https" else { return "unsupported URL scheme '\(scheme)'" }
        let result = HTTPResult()
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = 60
        config.timeoutIntervalForResource = 600
        let session = URLSession(configuration: config)
        let task = session.dataTask(with: url) { data, response, error in
            if let error {
                result.problem = error.localizedDescription
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                result.problem = "HTTP status \(http.statusCode)"
            } else if let data {
                do {
                    try data.write(to: URL(fileURLWithPath: path))
                } catch {
                    result.problem = "cannot write \(path) (\(error.localizedDescription))"
                }
            } else {
                result.problem = "no data received"
            }
            result.done.signal()
        }
        task.resume()
        result.done.wait()
        session.finishTasksAndInvalidate()
        return result.problem
    }

    /// Carries a download's outcome out of URLSession's completion handler; the semaphore orders
    /// the write before the read.
    private final class HTTPResult: @unchecked Sendable {
        var problem: String?
        let done = DispatchSemaphore(value: 0)
    }
}
