import Testing
@testable import NNTrainer

@Suite struct RandomTests {
    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xa = (0..<100).map { _ in a.next() }
        let xb = (0..<100).map { _ in b.next() }
        let xc = (0..<100).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
    }

    @Test func seedZeroIsUsable() {
        var g = SeededGenerator(seed: 0)
        let xs = (0..<10).map { _ in g.next() }
        #expect(Set(xs).count == 10)
    }

    @Test func uniformAndNormalMoments() {
        var g = SeededGenerator(seed: 7)
        let n = 20_000
        var sumU = 0.0, sumN = 0.0, sumN2 = 0.0
        for _ in 0..<n {
            let u = g.nextUniform()
            #expect(u >= 0 && u < 1)
            sumU += u
            let z = g.nextStandardNormal()
            sumN += z
            sumN2 += z * z
        }
        #expect(abs(sumU / Double(n) - 0.5) < 0.01)
        #expect(abs(sumN / Double(n)) < 0.03)
        #expect(abs(sumN2 / Double(n) - 1) < 0.05)
    }

    @Test func boundedIntsCoverRangeUniformly() {
        var g = SeededGenerator(seed: 9)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[g.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { $0 > 850 && $0 < 1150 })
    }

    @Test func shuffleIsAPermutationAndDeterministic() {
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        var a = Array(0..<50), b = Array(0..<50)
        g1.shuffle(&a)
        g2.shuffle(&b)
        #expect(a == b)
        #expect(a != Array(0..<50))
        #expect(a.sorted() == Array(0..<50))
    }

    @Test func stateRestoresTheStreamExactly() throws {
        var a = SeededGenerator(seed: 42)
        _ = a.next()
        _ = a.nextStandardNormal()          // leaves a spare Box–Muller value behind
        var b = try #require(SeededGenerator(state: a.state))
        #expect(b == a)
        for _ in 0..<5 { #expect(a.nextStandardNormal() == b.nextStandardNormal()) }
        for _ in 0..<5 { #expect(a.next() == b.next()) }
        #expect(SeededGenerator(state: [1, 0, 0, 0, 0, 0, 0]) == nil)      // xoshiro's forbidden zero state
        #expect(SeededGenerator(state: [1, 2, 3]) == nil)
        #expect(SeededGenerator(state: [1, 2, 3, 4, 5, 2, 0]) == nil)      // presence flag must be 0 or 1
    }
}
