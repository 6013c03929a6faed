import Testing
import NNModel
@testable import NNTrainer

/// The book's one-pixel shifts (expand_mnist.py), the per-epoch distortions and the spec strings.
@Suite struct ExpansionTests {
    /// A 3x4 image with pixels 1...12, row by row.
    let image: [Float] = (1...12).map(Float.init)

    @Test func shift1GivesTheImageAndItsFourShiftsExactly() throws {
        let data = try Dataset(name: "hand", inputSize: 12, images: image + image.map { $0 * 10 }, labels: [3, 7])
        let expanded = try Expansion.shift1(data, height: 3, width: 4)
        #expect(expanded.count == 10)
        #expect(expanded.labels == [3, 3, 3, 3, 3, 7, 7, 7, 7, 7])
        // Rows of the original: [1 2 3 4] [5 6 7 8] [9 10 11 12].
        #expect(Array(expanded.input(0)) == image)
        #expect(Array(expanded.input(1)) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])           // down
        #expect(Array(expanded.input(2)) == [5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0])        // up
        #expect(Array(expanded.input(3)) == [0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11])         // right
        #expect(Array(expanded.input(4)) == [2, 3, 4, 0, 6, 7, 8, 0, 10, 11, 12, 0])        // left
        #expect(Array(expanded.input(7)) == [50, 60, 70, 80, 90, 100, 110, 120, 0, 0, 0, 0])
    }

    @Test func shift1CountsFiveTimesAndChecksTheShape() throws {
        let data = try randomDataset(count: 7, inputSize: 784, classes: 10, seed: 1)
        let expanded = try Expansion.shift1(data)
        #expect(expanded.count == 35 && expanded.inputSize == 784)
        #expect(Array(expanded.input(10)) == Array(data.input(2)))
        #expect(throws: TrainerError.self) { try Expansion.shift1(try randomDataset(count: 2, inputSize: 10, classes: 2, seed: 1)) }
    }

    @Test func rotationByZeroIsTheIdentity() throws {
        let data = try randomDataset(count: 1, inputSize: 784, classes: 10, seed: 3)
        let x = Array(data.input(0))
        #expect(Expansion.rotate(x, degrees: 0) == x)
        #expect(Expansion.rotate(image, height: 3, width: 4, degrees: 0) == image)
    }

    @Test func rotationBy90DegreesMovesPixelsAroundTheCentre() {
        // A 3x3 image with one lit pixel at the top centre: rotated counter-clockwise by 90
        // degrees it lands on the left centre.
        var x = [Float](repeating: 0, count: 9)
        x[1] = 1
        let r = Expansion.rotate(x, height: 3, width: 3, degrees: 90)
        #expect(abs(r[3] - 1) < 1e-6)
        #expect(r.enumerated().allSatisfy { $0.offset == 3 || abs($0.element) < 1e-6 })
    }

    @Test func distortionsAreReproducibleFromTheSeed() throws {
        let data = try randomDataset(count: 5, inputSize: 784, classes: 10, seed: 4)
        for spec in ["rotate", "elastic", "rotate:15+elastic:8:3"] {
            let s = try ExpansionSpec.parse(spec)
            var a = Expansion.distortionGenerator(seed: 9, epoch: 2)
            var b = Expansion.distortionGenerator(seed: 9, epoch: 2)
            var c = Expansion.distortionGenerator(seed: 9, epoch: 3)
            let da = try Expansion.distorted(data, spec: s, rng: &a)
            let db = try Expansion.distorted(data, spec: s, rng: &b)
            let dc = try Expansion.distorted(data, spec: s, rng: &c)
            #expect(da == db, "\(spec)")
            #expect(da.images != dc.images, "\(spec): another epoch gives other images")
            #expect(da.images != data.images)
            #expect(da.labels == data.labels && da.count == data.count)
            #expect(da.images.allSatisfy { $0.isFinite && $0 >= -1e-6 && $0 <= 1 + 1e-6 })
        }
        var r1 = SeededGenerator(seed: 5), r2 = SeededGenerator(seed: 5)
        let x = Array(data.input(0))
        #expect(Expansion.elastic(x, parameters: ElasticParameters(), rng: &r1) == Expansion.elastic(x, parameters: ElasticParameters(), rng: &r2))
    }

    @Test func epochDistortionsDoNotDependOnTheThreadCount() throws {
        let data = try randomDataset(count: Expansion.distortionChunk + 100, inputSize: 784, classes: 10, seed: 8)
        let spec = try ExpansionSpec.parse("rotate+elastic:10:3")
        let one = try Expansion.distortedForEpoch(data, spec: spec, seed: 3, epoch: 4, threads: 1)
        let two = try Expansion.distortedForEpoch(data, spec: spec, seed: 3, epoch: 4, threads: 2)
        #expect(one == two)
        #expect(one.images != data.images && one.labels == data.labels)
        let other = try Expansion.distortedForEpoch(data, spec: spec, seed: 3, epoch: 5, threads: 2)
        #expect(other.images != one.images)
        // Chunk 0 is the single-stream distortion with chunk 0's generator.
        var rng = Expansion.distortionGenerator(seed: 3, epoch: 4, chunk: 0)
        let head = try Expansion.distorted(data.subset(0..<Expansion.distortionChunk), spec: spec, rng: &rng)
        #expect(Array(one.images.prefix(head.images.count)) == head.images)
    }

    @Test func elasticWithTinyAlphaBarelyMovesTheImage() throws {
        let data = try randomDataset(count: 1, inputSize: 784, classes: 10, seed: 6)
        let x = Array(data.input(0))
        var rng = SeededGenerator(seed: 1)
        let y = Expansion.elastic(x, parameters: ElasticParameters(alpha: 1e-9, sigma: 4), rng: &rng)
        #expect(zip(x, y).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func specStringsParseAndPrintCanonically() throws {
        #expect(try ExpansionSpec.parse("").isNone)
        #expect(try ExpansionSpec.parse("none").isNone)
        #expect(try ExpansionSpec.parse("shift1") == ExpansionSpec(shift1: true))
        let both = try ExpansionSpec.parse("shift1+rotate")
        #expect(both.shift1 && both.rotationDegrees == 10 && both.elastic == nil && both.hasDistortions)
        #expect(try ExpansionSpec.parse("elastic:20:3").elastic == ElasticParameters(alpha: 20, sigma: 3))
        for spec in ["shift1", "shift1+rotate", "rotate:12.5", "elastic", "elastic:20:3", "shift1+rotate+elastic"] {
            #expect(try ExpansionSpec.parse(spec).description == spec)
            #expect(try ExpansionSpec.parse(ExpansionSpec.parse(spec).description) == ExpansionSpec.parse(spec))
        }
        for bad in ["shift2", "rotate:-3", "rotate:x", "elastic:1:2:3", "shift1+shift1", "shift1+", "rotate:400"] {
            #expect(throws: TrainerError.self, "\(bad)") { try ExpansionSpec.parse(bad) }
        }
    }
}
