internal import CLibPQ

/// An owned PGresult, freed by its one deinit.
final class PostgresResult {
    private let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQclear(pointer) }

    var succeeded: Bool {
        let status = PQresultStatus(pointer)
        return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK
    }

    var failed: Bool {
        let status = PQresultStatus(pointer)
        return status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE
    }

    /// The five-character SQLSTATE of an error ("42P01"), nil for none.
    var sqlState: String? { field(UInt8(ascii: "C")) }

    /// The server's one-line message of an error, without its severity.
    var errorMessage: String {
        field(UInt8(ascii: "M")) ?? firstLine(String(cString: PQresultErrorMessage(pointer)))
    }

    /// The rows, NULL as nil.
    var rows: [[String?]] {
        let count = PQntuples(pointer), width = PQnfields(pointer)
        return (0..<count).map { row in
            (0..<width).map { column in
                PQgetisnull(pointer, row, column) == 1 ? nil : String(cString: PQgetvalue(pointer, row, column))
            }
        }
    }

    private func field(_ code: UInt8) -> String? {
        PQresultErrorField(pointer, Int32(code)).map { String(cString: $0) }
    }
}

/// The first line of a libpq message, trimmed.
func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "").trimmingSpaces
}
