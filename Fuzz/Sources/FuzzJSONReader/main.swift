// libFuzzer target: the JSON reader must accept or refuse every input, never crash or overrun.
import Adapters
import FuzzSupport

func check(_ bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { buffer in
        let valid = (try? JSONReader.validate(buffer)) != nil
        guard let object = try? JSONObjectFields(buffer) else { return }
        precondition(valid, "an object the validator refuses")
        for field in object.fields {
            precondition(field.valueRange.upperBound <= buffer.count && field.keyRange.upperBound <= buffer.count, "range past the input")
            _ = object.string(field)
            _ = object.int64(field)
        }
    }
}

runFuzzer(check)
