import java.nio.file.Path;

/**
 * Where the archive and its working folders are: declared here once. Every step and the
 * pipeline take their folders from a Layout; the sandbox makes one under its own work folder.
 *
 * @param root    the kit's top folder (holds .env, .kit/)
 * @param data    identities.json, photo_index.json, the embedding store, backups/, runs/, review/
 * @param photos  the archive's local photo store (raw_photos/)
 * @param crops   one JPEG per face (raw_photos/crops/)
 * @param pending downloads waiting for ingest, one folder per upload job (raw_photos/pending/)
 * @param models  the face models and models.json
 */
public record Layout(Path root, Path data, Path photos, Path crops, Path pending, Path models) {

    /** The standard layout under a kit root: data/, raw_photos/, raw_photos/crops/, raw_photos/pending/, models/. */
    public static Layout standard(Path root) {
        Path r = root.toAbsolutePath().normalize();
        return new Layout(r, r.resolve("data"), r.resolve("raw_photos"), r.resolve("raw_photos/crops"),
                r.resolve("raw_photos/pending"), r.resolve("models"));
    }

    /** The archive's folders under {@code work} (a sandbox or a test), sharing the kit's models. */
    public static Layout under(Path work, Path models) {
        Path w = work.toAbsolutePath().normalize();
        return new Layout(w, w.resolve("data"), w.resolve("raw_photos"), w.resolve("raw_photos/crops"),
                w.resolve("raw_photos/pending"), models.toAbsolutePath().normalize());
    }

    public Layout withData(Path p) { return p == null ? this : new Layout(root, abs(p), photos, crops, pending, models); }
    public Layout withPhotos(Path p) { return p == null ? this : new Layout(root, data, abs(p), crops, pending, models); }
    public Layout withCrops(Path p) { return p == null ? this : new Layout(root, data, photos, abs(p), pending, models); }
    public Layout withPending(Path p) { return p == null ? this : new Layout(root, data, photos, crops, abs(p), models); }
    public Layout withModels(Path p) { return p == null ? this : new Layout(root, data, photos, crops, pending, abs(p)); }

    /** The run journals and the job ledger. */
    public Path runs() { return data.resolve("runs"); }

    /** Review pages and the review's decisions files. */
    public Path review() { return data.resolve("review"); }

    /** The kit's own caches (git-ignored). */
    public Path kitCache() { return root.resolve(".kit"); }

    /** Review pages' small copies of crops and photos, by content (ThumbnailCache): any archive's, always safe to delete. */
    public Path thumbnails() { return kitCache().resolve("review-thumbnails.pack"); }

    private static Path abs(Path p) {
        return p.toAbsolutePath().normalize();
    }
}
