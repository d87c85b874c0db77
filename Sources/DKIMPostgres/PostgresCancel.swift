internal import CLibPQ
import Dispatch

/// An owned PGcancel: what it takes to ask the server to stop a connection's running query
/// (a new connection to the server carrying the backend's key), freed by its one deinit.
///
/// PQcancel blocks until the server takes the request (libpq 15 has no non-blocking cancel), so it
/// is sent from a queue of its own, never from the thread whose query timed out: that thread
/// returns at its deadline and the connection is dropped. The cancel only spares the server the
/// rest of a query nobody waits for.
final class PostgresCancel: @unchecked Sendable {
    private let pointer: OpaquePointer
    private static let queue = DispatchQueue(label: "dkim-milter.postgres-cancel", attributes: .concurrent)

    init?(_ connection: OpaquePointer) {
        guard let pointer = PQgetCancel(connection) else { return nil }
        self.pointer = pointer
    }

    deinit { PQfreeCancel(pointer) }

    /// Sends the request in the background.
    func sendInBackground() {
        Self.queue.async {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(self.pointer, &message, Int32(message.count))
        }
    }
}
