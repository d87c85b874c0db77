import DKIM
import Dispatch
import Foundation
import Glibc

/// The client's one thread: poll() over the sockets of every outstanding query and a wake-up
/// eventfd, so a query costs a descriptor and a little memory, never a thread. Submissions
/// come from any thread through a lock; everything else belongs to the loop's thread.
final class DNSEventLoop: @unchecked Sendable {
    /// The thread's name, as /proc/self/task/*/comm shows it.
    static let threadName = "dkim-dns"

    private let settings: DNSTransaction.Settings
    private let rotate: Bool
    private let maximumOutstanding: Int
    private let wakeUp: DNSWakeUp

    // Guarded by `lock`.
    private let lock = NSLock()
    private var submitted: [DNSTransaction] = []
    private var immediate: [(@Sendable (DNSLookupResult) -> Void, DNSLookupResult)] = []
    private var outstanding = 0
    private var stopping = false
    private var rotation = 0
    private var loopThread: pthread_t?

    // The loop thread's own.
    private var active: [DNSTransaction] = []
    private var buffer = [UInt8](repeating: 0, count: DNSResponse.maximumSize + 1)

    init?(settings: DNSTransaction.Settings, rotate: Bool, maximumOutstanding: Int) {
        guard let wakeUp = DNSWakeUp() else { return nil }
        self.settings = settings
        self.rotate = rotate
        self.maximumOutstanding = maximumOutstanding
        self.wakeUp = wakeUp
    }

    /// Starts the thread; it keeps the loop alive until `stop()`.
    func start() {
        Thread { [self] in run() }.start()
    }

    /// Queries submitted and not yet completed.
    var outstandingQueries: Int {
        lock.lock(); defer { lock.unlock() }
        return outstanding
    }

    /// Whether the caller is the loop's thread (where waiting for a query would never end).
    var isLoopThread: Bool {
        lock.lock(); defer { lock.unlock() }
        guard let loopThread else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    /// Hands a query to the loop; over the bound, it is refused with a temporary failure. The
    /// completion is called on the loop's thread in every case. Never blocks.
    func submit(_ query: DNSQuery, deadline: UInt64, completion: @escaping @Sendable (DNSLookupResult) -> Void) {
        lock.lock()
        if stopping {
            lock.unlock()
            completion(.temporaryFailure(.shutDown))
            return
        }
        if outstanding >= maximumOutstanding {
            immediate.append((completion, .temporaryFailure(.tooManyOutstanding(limit: maximumOutstanding))))
        } else {
            outstanding += 1
            let first = rotate ? rotation : 0
            rotation = (rotation + 1) % settings.servers.count
            submitted.append(DNSTransaction(query: query, deadline: deadline, settings: settings, firstServer: first,
                                            completion: completion))
        }
        lock.unlock()
        wakeUp.signal()
    }

    /// Delivers a result on the loop's thread without a query (a name that cannot be sent).
    func deliver(_ result: DNSLookupResult, to completion: @escaping @Sendable (DNSLookupResult) -> Void) {
        lock.lock()
        if stopping {
            lock.unlock()
            completion(result)
            return
        }
        immediate.append((completion, result))
        lock.unlock()
        wakeUp.signal()
    }

    /// Ends the loop: outstanding queries complete with `.shutDown`, sockets are closed.
    func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        wakeUp.signal()
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func run() {
        // Signals go to the threads that wait for them, never to this one.
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
        Self.nameThisThread()
        lock.lock()
        loopThread = pthread_self()
        lock.unlock()

        var descriptors: [pollfd] = []
        while true {
            lock.lock()
            let new = submitted
            let ready = immediate
            let stop = stopping
            submitted = []
            immediate = []
            lock.unlock()

            for (completion, result) in ready { completion(result) }
            if stop {
                for transaction in active + new { finish(transaction, .temporaryFailure(.shutDown)) }
                active = []
                return
            }
            var now = Self.now()
            for transaction in new {
                if let result = transaction.start(now: now) {
                    finish(transaction, result)
                } else {
                    active.append(transaction)
                }
            }

            descriptors.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: wakeUp.fd, events: Int16(POLLIN), revents: 0))
            var nextTimer = UInt64.max
            for transaction in active {
                let request = transaction.pollRequest
                descriptors.append(pollfd(fd: request?.fd ?? -1, events: request?.events ?? 0, revents: 0))
                nextTimer = min(nextTimer, transaction.timer)
            }
            let status = poll(&descriptors, nfds_t(descriptors.count), Self.milliseconds(until: nextTimer, from: now))
            if status < 0, errno != EINTR { usleep(1000) }
            if descriptors[0].revents != 0 { wakeUp.drain() }

            now = Self.now()
            var remaining: [DNSTransaction] = []
            remaining.reserveCapacity(active.count)
            for (index, transaction) in active.enumerated() {
                var result: DNSLookupResult?
                let events = status > 0 ? descriptors[index + 1].revents : 0
                if events != 0 { result = transaction.handle(events, buffer: &buffer, now: now) }
                if result == nil, now >= transaction.timer { result = transaction.expire(now: now) }
                if let result {
                    finish(transaction, result)
                } else {
                    remaining.append(transaction)
                }
            }
            active = remaining
        }
    }

    /// Names the calling thread for ps and /proc (pthread_setname_np is not imported).
    private static func nameThisThread() {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = threadName.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    private func finish(_ transaction: DNSTransaction, _ result: DNSLookupResult) {
        transaction.close()
        lock.lock()
        outstanding -= 1
        lock.unlock()
        transaction.completion(result)
    }

    /// poll()'s timeout: whole milliseconds, rounded up so the loop never wakes just before.
    private static func milliseconds(until timer: UInt64, from now: UInt64) -> Int32 {
        guard timer != .max else { return -1 }
        guard timer > now else { return 0 }
        return Int32(min((timer - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }
}
