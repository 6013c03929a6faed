// network2.py's `save` format:
//   {"sizes": [784, 30, 10],
//    "weights": [w1, w2, ...],   w_l: sizes[l+1] rows of sizes[l] numbers
//    "biases":  [b1, b2, ...],   b_l: sizes[l+1] rows of one number (a column vector)
//    "cost": "QuadraticCost" | "CrossEntropyCost"}

import Foundation
import NNModel

/// Reading (and writing) network2.py's JSON files.
public enum Network2JSON {
    /// The value written to `Provenance.importedFrom`.
    public static let importedFrom = "network2.py JSON"

    /// Converts a network2.py JSON file into a model, checking every shape.
    /// - Parameter source: named in error messages (e.g. the path).
    /// - Throws: `TrainerError.format` naming the field and the shape that is wrong.
    public static func importModel(_ bytes: [UInt8], source: String = "network2.py JSON",
                                   name: String = "") throws(TrainerError) -> NetworkModel {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw TrainerError(.format, "\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else {
            throw TrainerError(.format, "\(source): expected a JSON object with sizes, weights, biases and cost")
        }
        guard let sizesAny = root["sizes"] as? [Any] else {
            throw TrainerError(.format, "\(source): missing or non-array \"sizes\"")
        }
        var sizes: [Int] = []
        for (i, s) in sizesAny.enumerated() {
            guard let v = integer(s), v > 0 else {
                throw TrainerError(.format, "\(source): sizes[\(i)] is not a positive integer")
            }
            sizes.append(v)
        }
        guard sizes.count >= 2 else {
            throw TrainerError(.format, "\(source): sizes \(sizes) needs at least two layers")
        }
        guard let weights = root["weights"] as? [Any] else {
            throw TrainerError(.format, "\(source): missing or non-array \"weights\"")
        }
        guard let biases = root["biases"] as? [Any] else {
            throw TrainerError(.format, "\(source): missing or non-array \"biases\"")
        }
        let layerCount = sizes.count - 1
        guard weights.count == layerCount else {
            throw TrainerError(.format, "\(source): \"weights\" has \(weights.count) matrices, sizes \(sizes) needs \(layerCount)")
        }
        guard biases.count == layerCount else {
            throw TrainerError(.format, "\(source): \"biases\" has \(biases.count) vectors, sizes \(sizes) needs \(layerCount)")
        }
        let cost: CostKind
        switch root["cost"] as? String {
        case "QuadraticCost": cost = .quadratic
        case "CrossEntropyCost": cost = .crossEntropy
        case let other:
            throw TrainerError(.format, "\(source): \"cost\" is \(other.map { "\"\($0)\"" } ?? "missing"), expected \"QuadraticCost\" or \"CrossEntropyCost\"")
        }
        var layers: [Layer] = []
        for l in 0..<layerCount {
            let rows = sizes[l + 1], cols = sizes[l]
            let w = try matrix(weights[l], rows: rows, cols: cols, what: "weights[\(l)]", source: source)
            let b = try matrix(biases[l], rows: rows, cols: 1, what: "biases[\(l)]", source: source)
            layers.append(.dense(name: "fc\(l + 1)", inputs: cols, outputs: rows, activation: .sigmoid, weights: w, bias: b))
        }
        var provenance = Provenance()
        provenance.importedFrom = importedFrom
        provenance.dataset = sizes[0] == 784 && sizes[sizes.count - 1] == 10 ? "mnist" : ""
        provenance.createdAt = rfc3339UTC(Date())
        let modelName = name.isEmpty ? "network2-" + sizes.map(String.init).joined(separator: "-") : name
        return NetworkModel(name: modelName, layers: layers,
                            classLabels: (0..<sizes[sizes.count - 1]).map(String.init),
                            input: sizes[0] == 784 ? .mnist : InputContract(shape: [sizes[0]], scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark),
                            cost: cost, provenance: provenance)
    }

    /// Reads and converts a network2.py JSON file.
    public static func importModel(path: String, name: String = "") throws(TrainerError) -> NetworkModel {
        let bytes: [UInt8]
        do {
            bytes = try readFileBytes(path: path)
        } catch {
            throw TrainerError(.io, error.message)   // names the path: missing, a directory, unreadable, too large
        }
        return try importModel(bytes, source: path, name: name)
    }

    /// The network in network2.py's JSON format (loadable by network2.load).
    public static func export(_ network: Network) throws(TrainerError) -> [UInt8] {
        guard let costName = network.cost.network2ClassName else {
            throw TrainerError(.unsupported, "network2.py has no \(network.cost.name) cost")
        }
        guard network.isSigmoidMLP else {
            throw TrainerError(.unsupported,
                               "network2.py holds only fully connected sigmoid layers; this network is \(network.architecture.description)")
        }
        var weights: [[[Double]]] = []
        var biases: [[[Double]]] = []
        for (l, v) in network.layout.enumerated() {
            let w = network.weights(layer: l)
            weights.append((0..<v.outFeatures).map { j in w[j * v.inFeatures ..< (j + 1) * v.inFeatures].map(Double.init) })
            biases.append(network.biases(layer: l).map { [Double($0)] })
        }
        let object: [String: Any] = ["sizes": network.sizes, "weights": weights, "biases": biases, "cost": costName]
        do {
            return [UInt8](try JSONSerialization.data(withJSONObject: object))
        } catch {
            throw TrainerError(.internal, "cannot encode JSON (\(error.localizedDescription))")
        }
    }

    private static func integer(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d.rounded() == d, abs(d) < 1e15 { return Int(d) }
        return nil
    }

    private static func number(_ v: Any) -> Double? {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let n = v as? NSNumber { return n.doubleValue }
        return nil
    }

    /// A rows x cols list of lists of numbers, flattened row-major into Float.
    private static func matrix(_ value: Any, rows: Int, cols: Int, what: String, source: String) throws(TrainerError) -> [Float] {
        guard let list = value as? [Any] else {
            throw TrainerError(.format, "\(source): \(what) is not a list of rows")
        }
        guard list.count == rows else {
            throw TrainerError(.format, "\(source): \(what) has \(list.count) rows, expected shape (\(rows), \(cols))")
        }
        var out: [Float] = []
        out.reserveCapacity(rows * cols)
        for (r, rowAny) in list.enumerated() {
            guard let row = rowAny as? [Any] else {
                throw TrainerError(.format, "\(source): \(what)[\(r)] is not a list")
            }
            guard row.count == cols else {
                throw TrainerError(.format, "\(source): \(what)[\(r)] has \(row.count) values, expected shape (\(rows), \(cols))")
            }
            for (c, x) in row.enumerated() {
                guard let d = number(x), d.isFinite else {
                    throw TrainerError(.format, "\(source): \(what)[\(r)][\(c)] is not a finite number")
                }
                out.append(Float(d))
            }
        }
        return out
    }
}
