import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Registers analysed photos in the archive, one photo at a time, in the order that makes a
 * crash harmless: the photo file, its crops, its vectors in the embedding store, and last its
 * photo_index.json entry — the commit point. Until that entry is written the photo is not in
 * the archive, and a re-run redoes it under the same name with the same face ids (the store
 * replaces their vectors, crops are rewritten). Also the archive's naming rules for a new
 * photo: the name it is kept under and its face ids (data-files.md).
 */
public final class PhotoRegistration {
    static final String FACE_ID_PREFIX = "inbox_";

    /** One photo to register, everything decided by the plan. {@code keptAs}: its file name in raw_photos/. */
    public record Photo(Path source, String jobId, String hash, String keptAs, UploadFolder.PhotoLabels labels,
                        PhotoAnalysis.Analysed analysed) {
        public String photoId() {
            return photoIdOf(hash);
        }
    }

    private final Layout layout;
    private final ArchiveFiles archive;
    private final ObjectNode index;
    private final EmbeddingStore store;
    private final String model;

    /** Registers into {@code index} (photo_index.json as read, kept up to date here) and {@code store}. */
    public PhotoRegistration(Layout layout, ObjectNode index, EmbeddingStore store, String model) {
        this.layout = layout;
        this.archive = new ArchiveFiles(layout.data());
        this.index = index;
        this.store = store;
        this.model = model;
    }

    /** The photo id of a file with this content hash: its first 16 hex digits. */
    public static String photoIdOf(String hash) {
        return hash.substring(0, 16);
    }

    /** inbox_ + the first 12 hex digits of sha256("job:filename:index") (data-files.md). */
    public static String faceId(String jobId, String filename, int index) {
        return FACE_ID_PREFIX + Photos.contentHash((jobId + ":" + filename + ":" + index).getBytes(StandardCharsets.UTF_8)).substring(0, 12);
    }

    /**
     * Writes one photo into the archive and returns its faces as stored. On a failure the
     * archive's documents are as before this photo (files already written are overwritten by
     * the re-run: same name, same face ids).
     */
    public List<EmbeddingStore.Face> register(Photo p) throws IOException {
        Path target = layout.photos().resolve(p.keptAs());
        if (!Files.exists(target)) AtomicFiles.copy(p.source(), target, false);

        List<EmbeddingStore.Face> faces = new ArrayList<>();
        Map<Path, byte[]> crops = new LinkedHashMap<>();
        List<PhotoAnalysis.FoundFace> found = p.analysed().faces();
        for (int i = 0; i < found.size(); i++) {
            PhotoAnalysis.FoundFace f = found.get(i);
            String faceId = faceId(p.jobId(), p.keptAs(), i);
            crops.put(layout.crops().resolve(faceId + ".jpg"), f.cropJpeg());
            faces.add(storedFace(faceId, p.keptAs(), target, f, model));
        }
        AtomicFiles.writeAll(crops);
        store.append(faces);
        CrashPoint.reach("ingest.before-index");  // crash tests: files and vectors written, photo_index.json not yet

        String photoId = p.photoId();
        ObjectNode photos = (ObjectNode) index.get("photos");
        ObjectNode faceToPhoto = index.has("face_to_photo") ? (ObjectNode) index.get("face_to_photo") : index.putObject("face_to_photo");
        photos.set(photoId, entry(p, faces));
        for (EmbeddingStore.Face f : faces) faceToPhoto.put(f.faceId(), photoId);
        try {
            archive.writePhotoIndex(index);
        } catch (KitException e) {
            // Not written: the document in memory goes back to what is on disk, so the next photo does not carry this one in.
            photos.remove(photoId);
            for (EmbeddingStore.Face f : faces) faceToPhoto.remove(f.faceId());
            throw e;
        }
        return faces;
    }

    /** A found face as the embedding store keeps it, with its PFE sigma_sq (data-files.md); also used by the rescan. */
    static EmbeddingStore.Face storedFace(String faceId, String keptAs, Path file, PhotoAnalysis.FoundFace f, String model) {
        float[] b = f.box();
        double area = (b[2] - b[0]) * (double) (b[3] - b[1]);
        double q = Math.max(0, Math.min(1, f.score())) * Math.min(area / 10000.0, 1.0);
        float sigmaSq = (float) (1.0 - (1.0 - 0.01) * q);
        return new EmbeddingStore.Face(faceId, keptAs, file.toString(), f.embedding().mu(), sigmaSq, f.score(), b,
                f.embedding().quality(), model);
    }

    private static ObjectNode entry(Photo p, List<EmbeddingStore.Face> faces) {
        ObjectNode entry = JsonFiles.object();
        entry.put("path", p.keptAs());
        ArrayNode ids = entry.putArray("face_ids");
        for (EmbeddingStore.Face f : faces) ids.add(f.faceId());
        entry.put("source", p.labels().source());
        entry.put("collection", p.labels().collection());
        entry.put("source_url", p.labels().sourceUrl());
        entry.put("width", p.analysed().width());
        entry.put("height", p.analysed().height());
        Photos.Exif exif = p.analysed().exif();
        if (exif.dateTaken() != null) entry.put("date_taken", exif.dateTaken());
        if (exif.camera() != null) entry.put("camera", exif.camera());
        if (exif.latitude() != null) {
            ObjectNode loc = entry.putObject("location");
            loc.put("latitude", exif.latitude());
            loc.put("longitude", exif.longitude());
        }
        entry.put("content_hash", p.hash());
        entry.put("job_id", p.jobId());
        entry.put("original_filename", p.source().getFileName().toString());
        if (p.analysed().rotation() != 0) entry.put("faces_found_turned_degrees", p.analysed().rotation());
        entry.put("ingested_at", Timestamps.archive());
        return entry;
    }

    /**
     * The name a photo is kept under: its own, unless another photo of the archive has it
     * (production builds public URLs from basenames); then "<job>_<name>", then with a number.
     * A file already there with the same bytes (an interrupted earlier run) keeps its name.
     * {@code used} holds the lower-cased names taken (the archive's and this batch's).
     */
    public static String uniqueName(String original, String jobId, String hash, Path photosDir, Set<String> used) throws IOException {
        String safe = original.replace('/', '_').replace('\\', '_');
        List<String> candidates = new ArrayList<>();
        candidates.add(safe);
        candidates.add(jobId + "_" + safe);
        int dot = safe.lastIndexOf('.');
        String stem = dot > 0 ? safe.substring(0, dot) : safe, ext = dot > 0 ? safe.substring(dot) : "";
        for (int i = 2; i < 1000; i++) candidates.add(jobId + "_" + stem + "_" + i + ext);
        for (String c : candidates) {
            if (used.contains(c.toLowerCase(Locale.ROOT))) continue;
            Path p = photosDir.resolve(c);
            if (!Files.exists(p) || (Files.isRegularFile(p) && Photos.contentHash(Files.readAllBytes(p)).equals(hash))) return c;
        }
        throw new KitException("no free name for " + Names.printable(original) + " in " + photosDir, "rename the file and ingest it again");
    }
}
