import Dispatch
import Foundation
import Synchronization

/// A scheduled action that can be cancelled before it runs.
public protocol BrokerTimer: Sendable {
    func cancel()
}

/// Time for the engine: the current epoch time and timers. Tests drive a `ManualClock` instead of waiting.
public protocol BrokerClock: Sendable {
    /// Epoch milliseconds.
    var nowMilliseconds: Int64 { get }
    /// Runs `action` once at or after `deadline` (epoch milliseconds) on some thread, unless cancelled.
    func schedule(at deadline: Int64, _ action: @escaping @Sendable () -> Void) -> any BrokerTimer
}

/// The wall clock, with timers on a global dispatch queue.
public struct SystemClock: BrokerClock {
    public init() {}

    public var nowMilliseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000)
    }

    public func schedule(at deadline: Int64, _ action: @escaping @Sendable () -> Void) -> any BrokerTimer {
        let item = DispatchWorkItem(block: action)
        let delay = max(0, deadline - nowMilliseconds)
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .milliseconds(Int(delay)), execute: item)
        return DispatchTimer(item: item)
    }

    private struct DispatchTimer: BrokerTimer, @unchecked Sendable {
        // DispatchWorkItem is thread-safe; it is not marked Sendable in corelibs.
        let item: DispatchWorkItem
        func cancel() { item.cancel() }
    }
}

/// A clock that moves only when `advance(by:)` is called; due timers run on the caller's thread, in deadline order.
public final class ManualClock: BrokerClock {
    private struct Entry {
        var id: UInt64
        var deadline: Int64
        var action: @Sendable () -> Void
    }

    private struct State {
        var now: Int64
        var nextId: UInt64 = 0
        var entries: [Entry] = []
    }

    // Guards the current time and the scheduled timers. Actions run after the lock is released.
    private let state: Mutex<State>

    public init(startMilliseconds: Int64 = 1_700_000_000_000) {
        state = Mutex(State(now: startMilliseconds))
    }

    public var nowMilliseconds: Int64 { state.withLock { $0.now } }

    /// Timers still waiting to run.
    public var pendingTimerCount: Int { state.withLock { $0.entries.count } }

    public func schedule(at deadline: Int64, _ action: @escaping @Sendable () -> Void) -> any BrokerTimer {
        let id = state.withLock { state in
            state.nextId += 1
            state.entries.append(Entry(id: state.nextId, deadline: deadline, action: action))
            return state.nextId
        }
        return ManualTimer(clock: self, id: id)
    }

    /// Moves time forward, running every timer that falls due, including timers those timers schedule.
    public func advance(by duration: Duration) {
        let target = state.withLock { $0.now } + duration.wholeMilliseconds
        while let entry = takeNextDue(before: target) {
            entry.action()
        }
        state.withLock { $0.now = max($0.now, target) }
    }

    private func takeNextDue(before target: Int64) -> Entry? {
        state.withLock { state in
            guard let index = state.entries.indices.min(by: {
                (state.entries[$0].deadline, state.entries[$0].id) < (state.entries[$1].deadline, state.entries[$1].id)
            }), state.entries[index].deadline <= target else { return nil }
            let entry = state.entries.remove(at: index)
            state.now = max(state.now, entry.deadline)
            return entry
        }
    }

    fileprivate func cancel(id: UInt64) {
        state.withLock { $0.entries.removeAll { $0.id == id } }
    }

    private struct ManualTimer: BrokerTimer {
        let clock: ManualClock
        let id: UInt64
        func cancel() { clock.cancel(id: id) }
    }
}
