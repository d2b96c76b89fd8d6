import picocli.CommandLine.Option;

/**
 * The options of a face search that the ingest and the rescan share, declared once as a picocli
 * mixin ({@code @Mixin FaceSearchOptions search;}): the smallest face looked for and the largest
 * photo decoded, with the one check of their values.
 */
public class FaceSearchOptions {
    @Option(names = "--min-face", paramLabel = "PX",
            description = "smallest face looked for, in pixels (default ${DEFAULT-VALUE}, the smallest the detector finds; more is quicker on large scans)")
    public double minFace = FaceDetector.DEFAULT_MIN_FACE;

    @Option(names = "--max-megapixels", paramLabel = "N",
            description = "refuse photos above N megapixels, read from the file's header (default ${DEFAULT-VALUE})")
    public double maxMegapixels = PhotoAnalysis.DEFAULT_MAX_MEGAPIXELS;

    /** A usage error (exit 2) for a value no search can work with: zero, negative, NaN; and an endless smallest face. */
    public void check() {
        if (!(minFace > 0 && Double.isFinite(minFace))) {
            throw new StepMain.UsageException("--min-face must be a positive number of pixels (got " + minFace + ")");
        }
        if (!(maxMegapixels > 0)) throw new StepMain.UsageException("--max-megapixels must be a positive number (got " + maxMegapixels + ")");
    }
}
