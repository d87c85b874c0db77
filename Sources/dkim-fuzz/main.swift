#if FUZZING
import CLibFuzzer
#endif
import Foundation

// dkim-fuzz TARGET [libFuzzer args…]: the target name is taken off argv before libFuzzer sees it.
let arguments = CommandLine.arguments
if arguments.count >= 2, arguments[1] == "make-seeds" {
    guard arguments.count == 4 else { print(FuzzDriver.usage); exit(2) }
    do {
        try FuzzSeeds.write(fixtures: arguments[2], to: arguments[3])
        exit(0)
    } catch {
        print("make-seeds: \(error)")
        exit(1)
    }
}
if arguments.count >= 3, arguments[1] == "replay" {
    FuzzDriver.target = arguments[2]
    guard FuzzTargets.names.contains(FuzzDriver.target) else { print(FuzzDriver.usage); exit(2) }
    for path in arguments.dropFirst(3) {
        guard let data = FileManager.default.contents(atPath: path) else { print("cannot read \(path)"); exit(1) }
        FuzzTargets.run(FuzzDriver.target, Array(data))
        print("\(path): ok")
    }
    if FuzzDriver.target == "milter" { print("signed messages verified: \(FuzzTargets.signedMessagesChecked)") }
    exit(0)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
if arguments.count >= 2, FuzzTargets.names.contains(arguments[1]) {
    FuzzDriver.target = arguments[1]
    // A copy of argv without argv[1]; libFuzzer keeps the pointer, so it is never freed.
    let copy = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: Int(argc))
    copy[0] = CommandLine.unsafeArgv[0]
    for i in 2..<Int(argc) { copy[i - 1] = CommandLine.unsafeArgv[i] }
    copy[Int(argc) - 1] = nil
    argc -= 1
    argv = copy
} else if let name = ProcessInfo.processInfo.environment["DKIM_FUZZ_TARGET"], FuzzTargets.names.contains(name) {
    FuzzDriver.target = name
} else {
    print(FuzzDriver.usage)
    exit(2)
}
// Child processes (-fork, -jobs) get argv without the name: they find it here.
setenv("DKIM_FUZZ_TARGET", FuzzDriver.target, 1)

#if FUZZING
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in FuzzDriver.runOne(data, size) })
#else
print("dkim-fuzz was built without libFuzzer; build it with:")
print("  swift build -c release --product dkim-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING")
print("or run contrib/fuzz.sh. (dkim-fuzz replay \(FuzzDriver.target) FILE… runs inputs without it.)")
exit(2)
#endif
