/// The version of dkim-milter and dkimkey (build info metric, packages, `--version`).
public enum MilterVersion {
    public static let current = "0.3.0"
}
