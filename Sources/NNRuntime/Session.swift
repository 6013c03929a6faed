// Sessions: a model plus the settings and the memory of one caller. A session keeps its scratch
// memory between calls (after the first call of a given size, predictions allocate nothing) and
// may spread a batch over several threads of its own. Threads are opt-in: a session made for one
// thread runs on the calling thread only, and a model used without a session always does.

import NNKernels
import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A model with reusable scratch memory and a thread count. One thread at a time may use a
/// session (give each thread its own); the model it runs stays shared and immutable, and the
/// session keeps it alive.
public final class Session {
    /// The model this session runs.
    public let model: Model
    /// Threads a prediction may use, the calling thread included.
    public let threads: Int
    private let arenas: [ScratchArena]
    private let pool: WorkerPool?

    /// Multiply-adds below which a part of a batch is not worth another thread: waking a sleeping
    /// thread and waiting for it costs some tens of microseconds, about 2 million multiply-adds
    /// (85 rows of a 784-30-10 network, 2 of the book's conv net).
    static let defaultMinimumWork = 2_000_000
    private let minimumWork: Int

    /// A session for `model` on `threads` threads (1: the calling thread only; 0: one per
    /// available core). Workers, if any, are created now and sleep (they never spin) between calls.
    /// - Throws: `.invalidArgument` for more than 256 threads, `.outOfMemory` if a thread cannot start.
    public convenience init(model: Model, threads: Int) throws(ModelError) {
        try self.init(model: model, threads: threads, minimumWork: Self.defaultMinimumWork)
    }

    /// `minimumWork`: multiply-adds per thread below which a batch uses fewer threads (tests use 1
    /// to split small batches).
    init(model: Model, threads: Int, minimumWork: Int) throws(ModelError) {
        let count = threads == 0 ? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) : threads
        guard count >= 1, count <= 256 else {
            throw ModelError(.invalidArgument, "threads must be between 0 (one per core) and 256, got \(threads)")
        }
        self.model = model
        self.threads = count
        self.minimumWork = max(1, minimumWork)
        arenas = (0..<count).map { _ in ScratchArena() }
        pool = count > 1 ? try WorkerPool(workers: count - 1) : nil
    }

    deinit { pool?.shutdown() }

    /// As `Model.predict(_:count:labels:outputs:)`, reusing this session's memory and threads.
    public func predict(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                        labels: UnsafeMutableBufferPointer<Int32>?,
                        outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        _ = try model.checkInputs(inputs.count, count: count, what: "inputs", unit: "values")
        try model.checkCombined(count: count, labels: labels, outputs: outputs)
        guard let p = inputs.baseAddress else { throw ModelError(.invalidArgument, "inputs is NULL") }
        try split(count, labels: labels?.baseAddress, outputs: outputs?.baseAddress) { start in
            .floats(p + start * model.inputSize)
        }
    }

    /// As `Model.predict(pixels:count:labels:outputs:)`, reusing this session's memory and threads.
    public func predict(pixels: UnsafeBufferPointer<UInt8>, count: Int,
                        labels: UnsafeMutableBufferPointer<Int32>?,
                        outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) {
        _ = try model.checkInputs(pixels.count, count: count, what: "pixels", unit: "bytes")
        try model.checkCombined(count: count, labels: labels, outputs: outputs)
        guard let p = pixels.baseAddress else { throw ModelError(.invalidArgument, "pixels is NULL") }
        try split(count, labels: labels?.baseAddress, outputs: outputs?.baseAddress) { start in
            .pixels(p + start * model.inputSize)
        }
    }

    /// Runs `count` rows as up to `threads` contiguous parts, part 0 on the calling thread. Every
    /// row's result is computed exactly as in a single-threaded call (each row's arithmetic does
    /// not depend on the rows around it), so results do not depend on the thread count.
    private func split(_ count: Int, labels: UnsafeMutablePointer<Int32>?, outputs: UnsafeMutablePointer<Float>?,
                       rows: (Int) -> Model.Rows) throws(ModelError) {
        let work = model.members.reduce(0) { $0 &+ max(1, $1.multiplyAdds) }
        let (total, overflow) = count.multipliedReportingOverflow(by: work)
        let parts = max(1, min(threads, count, overflow ? threads : total / minimumWork))
        let classes = model.classCount
        func runPart(_ k: Int) -> ModelError? {
            let start = count * k / parts, end = count * (k + 1) / parts
            do throws(ModelError) {
                try model.run(rows(start), count: end - start, labels: labels.map { $0 + start },
                              outputs: outputs.map { $0 + start * classes },
                              memberLabels: nil, memberOutputs: nil, arena: arenas[k])
                return nil
            } catch {
                return error
            }
        }
        guard parts > 1, let pool else {
            if let error = runPart(0) { throw error }
            return
        }
        var errors = [ModelError?](repeating: nil, count: parts)
        errors.withUnsafeMutableBufferPointer { e in
            let slots = e
            pool.run(parts) { k in slots[k] = runPart(k) }
        }
        if let error = errors.compactMap({ $0 }).first { throw error }
    }
}

/// Threads that sleep on a condition variable until `run` hands them parts of a job. Owned by one
/// session, used by one caller at a time.
final class WorkerPool: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var threads: [pthread_t] = []
    private var generation = 0
    private var parts = 0
    private var pending = 0
    private var stopping = false
    private var job: ((Int) -> Void)?

    init(workers: Int) throws(ModelError) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&done, nil)
        for index in 1...workers {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.loop(index: context.index)
                return nil
            }, context)
            guard status == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                shutdown()
                throw ModelError(.outOfMemory, "cannot start a worker thread (pthread_create: \(status))")
            }
            threads.append(thread)
        }
    }

    private final class WorkerContext {
        unowned let pool: WorkerPool
        let index: Int
        init(pool: WorkerPool, index: Int) {
            self.pool = pool
            self.index = index
        }
    }

    /// Worker `index` (1...workers): waits for a job with a part for it, runs it, reports.
    private func loop(index: Int) {
        var seen = 0
        pthread_mutex_lock(&mutex)
        while true {
            while generation == seen && !stopping { pthread_cond_wait(&wake, &mutex) }
            if stopping { break }
            seen = generation
            guard index < parts, let job else { continue }
            pthread_mutex_unlock(&mutex)
            job(index)
            pthread_mutex_lock(&mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(&done) }
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Runs body(0) on the calling thread and body(1..<parts) on workers; returns when all are done.
    func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(&mutex)
            self.parts = parts
            pending = parts - 1
            job = body
            generation += 1
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            body(0)
            pthread_mutex_lock(&mutex)
            while pending > 0 { pthread_cond_wait(&done, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Stops and joins the workers. Called once, by the owner, before it goes away.
    func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }

    deinit {
        pthread_cond_destroy(&wake)
        pthread_cond_destroy(&done)
        pthread_mutex_destroy(&mutex)
    }
}
