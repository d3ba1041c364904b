// The version reported by -version and /internal/status.

enum WorkerVersion {
    static let current = "1.0.0"
}
