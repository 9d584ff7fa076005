/// The version both executables print (`slipway --version`, `slipway-agent --version`).
public enum SlipwayVersion {
    public static let current = "0.1.0-dev"
}
