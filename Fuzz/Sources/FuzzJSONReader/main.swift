// libFuzzer target: the JSON reader must accept or refuse every input, never crash or overrun.
import Adapters
import Glibc

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let valid = (try? JSONReader.validate(buffer)) != nil
    if let object = try? JSONObjectFields(buffer) {
        precondition(valid, "an object the validator refuses")
        for field in object.fields {
            precondition(field.valueRange.upperBound <= size && field.keyRange.upperBound <= size, "range past the input")
            _ = object.string(field)
            _ = object.int64(field)
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOne($0, $1) })
