import DKIM
import Foundation

/// The target chosen at start; libFuzzer's callback is a C function and cannot capture it.
enum FuzzDriver {
    nonisolated(unsafe) static var target = "tag-list"

    static func runOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        FuzzTargets.run(target, bytes)
        return 0
    }

    static let usage = """
        usage: dkim-fuzz TARGET [libFuzzer options] [CORPUS_DIR…]   (or DKIM_FUZZ_TARGET=TARGET dkim-fuzz …)
               dkim-fuzz make-seeds FIXTURE_CORPUS_DIR OUT_DIR      (writes OUT_DIR/TARGET/… seed inputs)
               dkim-fuzz replay TARGET FILE…                         (runs inputs once, without libFuzzer)
        targets: \(FuzzTargets.names.joined(separator: ", "))
        """
}

/// libFuzzer's entry point; the link needs it even though the driver is started from main.swift.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzDriver.runOne(data, size)
}
