// Sessions: a model plus the settings and the memory of one caller. A session keeps its scratch
// memory between calls (after the first call of a given size, predictions allocate nothing) and
// may spread a batch over several threads of its own. Threads are opt-in: a session made for one
// thread runs on the calling thread only, and a model used without a session always does.

import NNKernels
import NNModel
import Synchronization

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

    /// Multiply-adds below which a part of a batch is not worth another thread. Handing a part to
    /// a worker that is still awake from the previous call costs about a microsecond; waking a
    /// sleeping one some tens. 500,000 multiply-adds (about 10 microseconds of work: 22 rows of a
    /// 784-30-10 network, 7 of 784-100-10, 1 of the book's conv net) is where a second thread
    /// starts to pay in back-to-back calls.
    static let defaultMinimumWork = 500_000
    private let minimumWork: Int
    /// Chunks of rows are multiples of this (but the last): whole six-row tiles of the dense product.
    private static let chunkRows = 12
    /// At most this many chunks per call (the last takes what is left).
    private static let maximumChunks = 64

    /// A session for `model` on `threads` threads (1: the calling thread only; 0: one per
    /// available core). Workers, if any, are created now; between calls they sleep, after watching
    /// for the next call for at most 0.1 ms (`WorkerPool.spinNanoseconds`).
    /// - Throws: `.invalidArgument` for more than 256 threads, `.outOfMemory` if a thread cannot start.
    public convenience init(model: Model, threads: Int) throws(ModelError) {
        try self.init(model: model, threads: threads, minimumWork: Self.defaultMinimumWork)
    }

    /// `minimumWork`: multiply-adds per thread below which a batch uses fewer threads, and (capped
    /// at `MapSplit.defaultMinimumWork`) a convolution's maps are not split further (tests use 1
    /// to split small batches and small layers).
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

    /// Runs body(i, k) for every item i < items, on up to `threads` threads (k: 0 for the calling
    /// thread, else the worker's index), each thread taking the next item as it goes; returns
    /// when all are done. For work that is not split by rows of a model (decoding image files).
    func forEachItem(_ items: Int, _ body: (_ item: Int, _ thread: Int) -> Void) {
        let parts = max(1, min(threads, items))
        guard parts > 1, let pool else {
            for i in 0..<items { body(i, 0) }
            return
        }
        pool.share(chunks: items, participants: parts, body)
    }

    /// Runs `count` rows on up to `threads` threads, the calling thread one of them, each taking
    /// chunks of rows as it goes. Every row's result is computed exactly as in a single-threaded
    /// call (each row's arithmetic does not depend on the rows around it), so results depend
    /// neither on the thread count nor on which thread took which rows.
    private func split(_ count: Int, labels: UnsafeMutablePointer<Int32>?, outputs: UnsafeMutablePointer<Float>?,
                       rows: (Int) -> Model.Rows) throws(ModelError) {
        let work = model.members.reduce(0) { $0 &+ max(1, $1.multiplyAdds) }
        let (total, overflow) = count.multipliedReportingOverflow(by: work)
        let parts = max(1, min(threads, count, overflow ? threads : total / minimumWork))
        let classes = model.classCount
        func runRows(_ range: Range<Int>, _ k: Int) -> ModelError? {
            let start = range.lowerBound
            do throws(ModelError) {
                try model.run(rows(start), count: range.count, labels: labels.map { $0 + start },
                              outputs: outputs.map { $0 + start * classes },
                              memberLabels: nil, memberOutputs: nil, arena: arenas[k])
                return nil
            } catch {
                return error
            }
        }
        guard parts > 1, let pool else {
            // Too few rows for the threads: a network with convolutions spreads each one's maps
            // over them instead (`MapSplit`), with convolution scratch from the idle parts' arenas.
            let convFloats = model.members.reduce(0) { max($0, $1.convScratch) }
            guard threads > 1, count < threads, convFloats > 0, let pool else {
                if let error = runRows(0..<count, 0) { throw error }
                return
            }
            // The dense layers split too (by columns), with the scratch of their product.
            let gemmDepth = model.members.reduce(0) { max($0, $1.maxGEMMDepth) }
            let partFloats = max(convFloats, Kernels.active.gemmScratchCount(m: count, k: gemmDepth))
            try withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: threads - 1) {
                scratch throws(ModelError) in
                for k in 1..<threads {
                    arenas[k].reset()
                    scratch[k - 1] = try arenas[k].floats(1, partFloats)
                }
                guard let base = scratch.baseAddress else { return }
                try model.run(rows(0), count: count, labels: labels, outputs: outputs, memberLabels: nil,
                              memberOutputs: nil, arena: arenas[0],
                              split: MapSplit(pool: pool, threads: threads, scratch: UnsafePointer(base),
                                              minimumWork: min(MapSplit.defaultMinimumWork, minimumWork)))
            }
            return
        }
        // The threads take the rows in chunks as they go (guided scheduling: each chunk a share of
        // the rows left, so they shrink towards the end, in multiples of `chunkRows` and at least
        // `smallest` rows), so a thread that the rest of the machine slows down, or that wakes
        // late, takes fewer rows instead of holding up the call. The chunks' starts, then one
        // result slot per thread, on the stack (no allocation per call).
        let smallest = max(Self.chunkRows, minimumWork / work)
        let failure: ModelError? = withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.maximumChunks + 1) {
            starts in
            var chunks = 0, start = 0
            while start < count {
                starts[chunks] = start
                chunks += 1
                let left = count - start
                let share = max(smallest, left / (2 * parts))
                let size = chunks == Self.maximumChunks ? left
                    : (share + Self.chunkRows - 1) / Self.chunkRows * Self.chunkRows
                start += min(left, size)
            }
            starts[chunks] = count
            return withUnsafeTemporaryAllocation(of: ModelError?.self, capacity: parts) { slots in
                slots.initialize(repeating: nil)
                defer { _ = slots.deinitialize() }
                pool.share(chunks: chunks, participants: parts) { c, k in
                    // A thread that failed takes no more rows; the call reports its error.
                    if slots[k] == nil { slots[k] = runRows(starts[c]..<starts[c + 1], k) }
                }
                return slots.lazy.compactMap { $0 }.first
            }
        }
        if let failure { throw failure }
    }
}

/// Threads that share the chunks of a job handed to them by `share`. Owned by one session, used
/// by one caller at a time.
///
/// Hand-off: a job is published through one atomic word (a generation counter and the number
/// of threads that may take part), so a worker that is awake picks it up in well under a
/// microsecond. After its chunks, a worker keeps watching that word for at most
/// `spinNanoseconds` (back-to-back calls are the common case of a busy caller), then sleeps on a
/// condition variable until the next call; an idle session therefore costs no CPU.
///
/// Chunks: the calling thread and the workers take chunk after chunk from one atomic word, the
/// job's generation, the next chunk and the number of chunks workers are running. The caller
/// takes chunks too, and when none is left it waits only for the chunks workers took (actively
/// for a bounded time, then asleep), never for a worker that took none: a worker whose core the
/// machine has given to something else, or that is still waking, does not hold up the call; when
/// it gets there, the job's word has moved on (another generation, or no chunk left), and it
/// leaves the job alone.
final class WorkerPool: @unchecked Sendable {
    /// How long a worker keeps looking for the next job after finishing one, and how long the
    /// caller waits actively for the workers' chunks before sleeping: 100 microseconds.
    static let spinNanoseconds = 100_000

    /// generation << 16 | threads taking part: one word, so a worker reads a consistent pair.
    private let ticket = Atomic<Int>(0)
    /// The current job's generation (low `generationBits` bits) << 28 | next chunk << 8 | chunks
    /// taken by workers and not finished. A worker takes a chunk by one compare-and-exchange of
    /// the whole word, which fails if the job has moved on since it read it.
    private let work = Atomic<Int>(0)
    /// The current job's chunk count (at most `maximumChunks`).
    private let chunkCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var sleepers = 0             // guarded by mutex
    private var callerSleeping = false   // guarded by mutex
    private var threads: [pthread_t] = []
    /// The current job, body(chunk, thread); written by the caller before it publishes the
    /// ticket, read only by a worker holding a chunk of it (the caller waits for those chunks
    /// before clearing it).
    private var job: ((Int, Int) -> Void)?

    /// Chunks a job may have: the next chunk's field is 20 bits wide.
    static let maximumChunks = (1 << 20) - 1
    private static let generationBits = 35
    private static let runningMask = 0xFF            // at most 255 workers
    private static let nextShift = 8, nextMask = 0xF_FFFF
    private static let generationShift = 28

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

    /// The `work` word's generation field for ticket generation `generation`.
    @inline(__always)
    private static func tag(_ generation: Int) -> Int {
        (generation & ((1 << generationBits) - 1)) << generationShift
    }

    /// Worker `index` (1...workers): waits for a ticket newer than the last one it saw, takes
    /// chunks of the job while there are any (if the job is for it), and watches again.
    private func loop(index: Int) {
        var seen = 0
        while true {
            var current = ticket.load(ordering: .acquiring)
            if current == seen {
                current = spin(until: { ticket.load(ordering: .acquiring) != seen || stopping.load(ordering: .relaxed) },
                               then: { ticket.load(ordering: .acquiring) })
            }
            if current == seen {
                pthread_mutex_lock(&mutex)
                sleepers += 1
                while ticket.load(ordering: .acquiring) == seen && !stopping.load(ordering: .relaxed) {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers -= 1
                pthread_mutex_unlock(&mutex)
                current = ticket.load(ordering: .acquiring)
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = current
            guard index < current & 0xFFFF else { continue }
            let tag = Self.tag(current >> 16)
            while true {
                let word = work.load(ordering: .acquiring)
                let next = (word >> Self.nextShift) & Self.nextMask
                // Another job's word, or no chunk left: this job is done with this worker.
                guard word & ~((1 << Self.generationShift) - 1) == tag,
                      next < chunkCount.load(ordering: .relaxed) else { break }
                // Take chunk `next` and count it running, unless the word changed meanwhile.
                let taken = word &+ (1 << Self.nextShift) &+ 1
                guard work.compareExchange(expected: word, desired: taken, ordering: .acquiringAndReleasing).exchanged else {
                    continue
                }
                runChunk(next, index)
                let after = work.subtract(1, ordering: .acquiringAndReleasing).newValue
                if after & Self.runningMask == 0 {
                    pthread_mutex_lock(&mutex)
                    if callerSleeping { pthread_cond_signal(&done) }
                    pthread_mutex_unlock(&mutex)
                }
            }
        }
    }

    /// Runs one chunk of the current job. Not inlined, so that the worker's reference to the job
    /// is gone before it reports the chunk done (the caller's `withoutActuallyEscaping` checks
    /// that no reference outlives `share`).
    @inline(never)
    private func runChunk(_ chunk: Int, _ index: Int) {
        job?(chunk, index)
    }

    /// Polls `ready` for up to `spinNanoseconds`; returns `value()` (whether or not it became ready).
    /// No PAUSE instruction: under KVM a PAUSE loop can trigger pause-loop exits that deschedule
    /// the virtual CPU, the opposite of what a short wait wants.
    @inline(__always)
    private func spin(until ready: () -> Bool, then value: () -> Int) -> Int {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var polls = 0
        while !ready() {
            polls &+= 1
            if polls & 31 == 0 {
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let elapsed = (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec)
                if elapsed > Self.spinNanoseconds { break }
            }
        }
        return value()
    }

    /// Runs body(c, k) for every chunk c < chunks, on the calling thread (k = 0) and workers
    /// 1..<participants (k = the worker's index), each taking the next chunk as it goes; returns
    /// when every chunk is done. `participants` is at most workers + 1, `chunks` at most
    /// `maximumChunks`.
    func share(chunks: Int, participants: Int, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
        guard chunks > 1, chunks <= Self.maximumChunks, participants > 1 else {
            for c in 0..<max(0, chunks) { body(c, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            job = body
            let generation = (ticket.load(ordering: .relaxed) >> 16) &+ 1
            let tag = Self.tag(generation)
            chunkCount.store(chunks, ordering: .relaxed)
            // Chunk 0 is the caller's from the start (no claim to contend with the workers').
            work.store(tag | 1 << Self.nextShift, ordering: .relaxed)
            ticket.store((generation << 16) | participants, ordering: .releasing)
            pthread_mutex_lock(&mutex)
            if sleepers > 0 { pthread_cond_broadcast(&wake) }
            pthread_mutex_unlock(&mutex)
            // The caller's chunks (not counted as running: it knows when they are done).
            body(0, 0)
            var word = work.load(ordering: .relaxed)
            while true {
                let next = (word >> Self.nextShift) & Self.nextMask
                if next >= chunks { break }
                let (exchanged, original) = work.compareExchange(expected: word, desired: word &+ (1 << Self.nextShift),
                                                                 ordering: .acquiringAndReleasing)
                if exchanged {
                    body(next, 0)
                    word = work.load(ordering: .relaxed)
                } else {
                    word = original
                }
            }
            // No chunk is left to take, so the workers' running count only falls from here.
            @inline(__always) func running() -> Int { work.load(ordering: .acquiring) & Self.runningMask }
            if running() > 0 {
                _ = spin(until: { running() == 0 }, then: { 0 })
            }
            if running() > 0 {
                pthread_mutex_lock(&mutex)
                callerSleeping = true
                while running() > 0 { pthread_cond_wait(&done, &mutex) }
                callerSleeping = false
                pthread_mutex_unlock(&mutex)
            }
            job = nil
        }
    }

    /// Stops and joins the workers. Called once, by the owner, before it goes away.
    func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping.store(true, ordering: .relaxed)
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
