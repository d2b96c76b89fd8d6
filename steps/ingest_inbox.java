///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/ModelCatalog.java ../lib/Photos.java
//SOURCES ../lib/FaceModels.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyPickleReader.java ../lib/FaceGrouping.java ../lib/FaceDistances.java
//SOURCES ../lib/MatchThresholds.java ../lib/CrashPoint.java

/*
 * Step 3 — ingest: detects, aligns and embeds the faces of every photo under a folder of
 * uploads and adds them to the archive.
 *
 * For each photo (recursively; a job folder's _metadata.json gives source and collection
 * unless the command line does): decode it upright (EXIF orientation), skip it when the same
 * bytes are already in the archive (a duplicate), find its faces (pyramid + tiles for small
 * faces; a photo with none is retried turned 90/180/270 degrees, for scans put in sideways),
 * align and embed each face, keep the photo in raw_photos/<basename> (renamed when the name is
 * taken), write one crop per face to raw_photos/crops/<face_id>.jpg, add its embeddings to the
 * store and register photo and faces in photo_index.json. Finally the batch's new faces are
 * grouped into new INBOX identities ("Unidentified Person NNN").
 *
 * One photo's failure (damaged file, HEIC, ...) is reported and the batch goes on. Each photo
 * is committed alone, photo_index.json last, so a crash leaves the archive as it was before
 * the photo in progress; running the same command again finishes the job.
 *
 * Options:  --directory DIR    the photos to ingest (e.g. raw_photos/pending/<job>)
 *           --job-id ID        the upload job (face ids are derived from it)
 *           --source S, --collection C   label every photo (default: _metadata.json)
 *           --data-dir D, --photos-dir P, --crops-dir Q, --models-dir M
 *           --min-face PX      smallest face looked for (default 32 px; 20 = native pixels, slower)
 *           --json             one JSON summary on stdout
 * Example:  ./jbang ingest --directory raw_photos/pending/ --job-id staged-20260210 --source "Vida Capeluto NYC Collection"
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

public class ingest_inbox {
    static final String USAGE = "./jbang steps/ingest_inbox.java --directory DIR --job-id ID [--source S] [--collection C]"
            + " [--data-dir D] [--photos-dir P] [--crops-dir Q] [--models-dir M] [--min-face PX] [--json]";
    static final String ABOUT = """
            Step 3: finds, aligns and embeds the faces of every photo under DIR, keeps the photos and one crop per
            face, registers them in photo_index.json and groups the new faces into new INBOX identities.
            Damaged files, HEIC photos and duplicates are reported; the rest of the batch goes on.

            Example: ./jbang ingest --directory raw_photos/pending/ --job-id staged-20260210 --source "Family X\"""";

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--directory", "DIR", "the folder of photos to ingest (searched recursively)")
                    .option("--job-id", "ID", "the upload job's id; face ids are derived from it")
                    .option("--source", "S", "source of every photo (default: the job's _metadata.json)")
                    .option("--collection", "C", "collection of every photo (default: the job's _metadata.json)")
                    .option("--data-dir", "D", "the archive folder (default: data)")
                    .option("--photos-dir", "P", "where accepted photos are kept (default: raw_photos)")
                    .option("--crops-dir", "Q", "where face crops are written (default: raw_photos/crops)")
                    .option("--models-dir", "M", "the face models (default: models)")
                    .option("--min-face", "PX", "smallest face looked for, in pixels (default 32; 20 = native pixels, slower)")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            args.required("--directory");
            args.required("--job-id");
            KitConfig cfg = KitConfig.load();
            Options o = new Options(Path.of(args.get("--directory")).toAbsolutePath().normalize(), args.get("--job-id"),
                    args.get("--source"), args.get("--collection"), cfg.dataDir(args.get("--data-dir")),
                    cfg.photosDir(args.get("--photos-dir")), cfg.cropsDir(args.get("--crops-dir")), cfg.modelsDir(args.get("--models-dir")),
                    args.getDouble("--min-face", FaceDetector.DEFAULT_MIN_FACE));
            Console console = Console.standard(args.has("--json"));
            ObjectNode summary = run(o, null, console);
            console.emitJson(summary);
            return summary.path("errors").isEmpty() ? StepMain.OK : StepMain.FAILED;
        });
    }

    /** What to ingest and where; minFace = the smallest face looked for, in the photo's pixels. */
    public record Options(Path directory, String jobId, String source, String collection,
                          Path dataDir, Path photosDir, Path cropsDir, Path modelsDir, double minFace) {
        public Options(Path directory, String jobId, String source, String collection,
                       Path dataDir, Path photosDir, Path cropsDir, Path modelsDir) {
            this(directory, jobId, source, collection, dataDir, photosDir, cropsDir, modelsDir, FaceDetector.DEFAULT_MIN_FACE);
        }
    }

    /** A face found in a photo, ready to be stored. */
    record FoundFace(float[] box, float score, Photos.Image crop, FaceEmbedder.Embedding embedding) {}

    /** The result of the heavy, parallel part for one file: everything but the archive writes. */
    record Analysed(Path file, String hash, Photos.Decoded decoded, int rotation, List<FoundFace> faces,
                    String error, boolean duplicate, double seconds) {}

    static final String FACE_ID_PREFIX = "inbox_";
    static final Pattern UNIDENTIFIED = Pattern.compile("Unidentified Person (\\d+)");

    /** Ingests {@code o.directory()}; {@code models} may be null (loaded here) or shared by the caller. */
    public static ObjectNode run(Options o, FaceModels models, Console console) throws Exception {
        if (!Files.isDirectory(o.directory())) {
            throw new KitException("the folder to ingest does not exist: " + o.directory(), "check --directory (downloads land in raw_photos/pending/<job>)");
        }
        long t0 = System.nanoTime();
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "ingest_inbox");
        summary.put("directory", o.directory().toString());
        summary.put("job_id", o.jobId());
        ArrayNode photosOut = summary.putArray("photos");
        ArrayNode duplicatesOut = summary.putArray("duplicates");
        ArrayNode errorsOut = summary.putArray("errors");
        ArrayNode identitiesOut = summary.putArray("identities_created");

        List<Path> files = listFiles(o.directory());
        console.section("Step 3: Face detection and embedding (" + files.size() + " files in " + o.directory() + ")");
        if (files.isEmpty()) {
            console.info("No photo in " + o.directory() + ": nothing to do.");
            summary.putObject("timings").put("total_s", round((System.nanoTime() - t0) / 1e9));
            return summary;
        }
        boolean ownModels = models == null;
        try (DataLock lock = DataLock.acquire(o.dataDir(), "ingest " + o.jobId())) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            if (ownModels) models = FaceModels.open(o.modelsDir(), 1);
            final FaceModels m = models;
            m.detector.minFace(o.minFace());
            double loadS = (System.nanoTime() - t0) / 1e9;
            console.info(String.format("models: %s (%s detector)%s", m.embeddingModel, m.detector.family(),
                    ownModels ? String.format(", loaded in %.2f s", loadS) : ", already loaded"));

            ArchiveFiles archive = new ArchiveFiles(o.dataDir());
            ObjectNode index = archive.readPhotoIndex();
            ObjectNode photos = (ObjectNode) index.get("photos");
            ObjectNode faceToPhoto = index.has("face_to_photo") ? (ObjectNode) index.get("face_to_photo") : index.putObject("face_to_photo");
            EmbeddingStore store = EmbeddingStore.open(o.dataDir());
            warnAboutOtherModels(store, m.embeddingModel, console);

            Map<String, String> known = knownHashes(photos, o.photosDir());   // content hash -> photo id
            Set<String> knownNow = ConcurrentHashMap.newKeySet();
            knownNow.addAll(known.keySet());
            Set<String> usedNames = new HashSet<>();
            photos.fields().forEachRemaining(e -> usedNames.add(basename(e.getValue().path("path").asText()).toLowerCase(Locale.ROOT)));

            int workers = Math.max(1, FaceModels.cores());
            ExecutorService pool = Executors.newFixedThreadPool(workers, FaceModels.workerThreads("ingest"));
            List<EmbeddingStore.Face> batchFaces = new ArrayList<>();
            Map<String, String> batchFaceToPhoto = new LinkedHashMap<>();
            Map<String, String> batchFaceToFile = new HashMap<>();
            int facesTotal = 0;
            double analyseSeconds = 0;
            try (ProgressBar bar = console.progress("Ingesting", files.size(), false)) {
                // At most two photos per core in flight: enough to keep the cores busy, little memory.
                Deque<Future<Analysed>> inFlight = new ArrayDeque<>();
                int next = 0;
                while (next < files.size() || !inFlight.isEmpty()) {
                    while (next < files.size() && inFlight.size() < 2 * workers) {
                        Path f = files.get(next++);
                        inFlight.add(pool.submit(() -> analyse(f, m, knownNow)));
                    }
                    Analysed a = inFlight.poll().get();
                    analyseSeconds += a.seconds();
                    String rel = o.directory().relativize(a.file()).toString();
                    try {
                        if (a.error() != null) {
                            console.error(rel + ": " + a.error());
                            ObjectNode err = errorsOut.addObject();
                            err.put("file", rel);
                            err.put("error", a.error());
                        } else if (a.duplicate() || known.containsKey(a.hash())) {
                            String existing = known.get(a.hash());
                            console.info("duplicate, skipped: " + rel + (existing != null ? " (already photo " + existing + ", "
                                    + photos.path(existing).path("path").asText() + ")" : ""));
                            ObjectNode d = duplicatesOut.addObject();
                            d.put("file", rel);
                            d.put("photo_id", existing);
                        } else {
                            ObjectNode rec = commit(a, o, rel, m.embeddingModel, photos, faceToPhoto, index, archive, store, usedNames,
                                    batchFaces, batchFaceToPhoto, batchFaceToFile);
                            CrashPoint.reach("ingest.photo");  // crash tests: a photo fully committed
                            known.put(a.hash(), rec.get("photo_id").asText());
                            knownNow.add(a.hash());
                            photosOut.add(rec);
                            facesTotal += a.faces().size();
                            console.ok(rel + ": " + a.faces().size() + " face" + (a.faces().size() == 1 ? "" : "s")
                                    + (a.rotation() != 0 ? " (found after turning it " + a.rotation() + " degrees)" : "")
                                    + " -> " + rec.get("path").asText());
                        }
                    } catch (KitException e) {
                        // A write failure is not the photo's fault but still must not stop the batch silently.
                        console.error(rel + ": " + e.getMessage());
                        ObjectNode err = errorsOut.addObject();
                        err.put("file", rel);
                        err.put("error", e.getMessage());
                    }
                    bar.advance(1);
                }
            } finally {
                pool.shutdownNow();
            }

            // Faces of this job left without an identity by an interrupted earlier run are grouped too.
            addOrphans(o.jobId(), index, store, m.embeddingModel, archive, batchFaces, batchFaceToPhoto, batchFaceToFile);
            CrashPoint.reach("ingest.before-identities");  // crash tests: photos committed, no identities yet
            if (!batchFaces.isEmpty()) {
                double threshold = MatchThresholds.forModel(m.embeddingModel, o.modelsDir()).grouping;
                List<List<String>> groups = FaceGrouping.group(batchFaces, batchFaceToPhoto, threshold);
                ObjectNode ids = archive.readIdentities();
                int number = highestUnidentified(ids);
                String now = now();
                for (List<String> g : groups) {
                    number++;
                    String id = UUID.randomUUID().toString();
                    ObjectNode ident = JsonFiles.object();
                    ident.put("identity_id", id);
                    ident.put("name", String.format("Unidentified Person %03d", number));
                    ident.put("state", "INBOX");
                    ArrayNode anchors = ident.putArray("anchor_ids");
                    g.forEach(anchors::add);
                    ident.putArray("candidate_ids");
                    ident.putArray("negative_ids");
                    ident.put("version_id", 1);
                    ident.put("created_at", now);
                    ident.put("updated_at", now);
                    ident.putObject("metadata");
                    ObjectNode prov = ident.putObject("provenance");
                    prov.put("source", "inbox_ingest");
                    prov.put("job_id", o.jobId());
                    prov.put("filename", batchFaceToFile.get(g.get(0)));
                    prov.put("ingested_at", now);
                    prov.put("grouped_faces", g.size());
                    ((ObjectNode) ids.get("identities")).set(id, ident);
                    ObjectNode out = identitiesOut.addObject();
                    out.put("identity_id", id);
                    out.put("name", ident.get("name").asText());
                    out.set("face_ids", anchors.deepCopy());
                }
                archive.writeIdentities(ids);
                console.ok(groups.size() + " new INBOX identit" + (groups.size() == 1 ? "y" : "ies") + " from " + batchFaces.size()
                        + " new faces (grouping threshold " + threshold + ")");
            }
            double total = (System.nanoTime() - t0) / 1e9;
            ObjectNode timings = summary.putObject("timings");
            timings.put("models_load_s", round(loadS));
            timings.put("analysis_cpu_s", round(analyseSeconds));
            timings.put("total_s", round(total));
            timings.put("photos_per_s", round(files.isEmpty() ? 0 : files.size() / total));
            timings.put("ms_per_face", round(facesTotal == 0 ? 0 : analyseSeconds * 1000 / facesTotal));
            summary.put("embedding_model", m.embeddingModel);
            console.info(String.format("Done: %d photos added (%d faces), %d duplicates, %d errors, %d identities, %.1f s",
                    photosOut.size(), facesTotal, duplicatesOut.size(), errorsOut.size(), identitiesOut.size(), total));
        } finally {
            if (ownModels && models != null) models.close();
        }
        return summary;
    }

    // ------------------------------------------------------------------ the heavy part (parallel)

    static Analysed analyse(Path file, FaceModels m, Set<String> knownHashes) {
        long t = System.nanoTime();
        String name = file.getFileName().toString();
        try {
            byte[] bytes = Files.readAllBytes(file);
            String hash = Photos.contentHash(bytes);
            if (knownHashes.contains(hash)) return new Analysed(file, hash, null, 0, List.of(), null, true, secs(t));
            Photos.Decoded d = Photos.decode(bytes, name);
            Photos.Image img = d.image();
            int rotation = 0;
            List<FaceDetector.Face> faces = m.detector.detect(img);
            List<FaceEmbedder.Embedding> embeddings = embedAll(m, img, faces);
            Photos.Image seen = img;
            // Old scans are often put in sideways or upside down. When no face is found, or most
            // boxes are wider than tall (faces lying on their side), or most are weak (real upright
            // faces score >= 0.96; a turned photo gives a few 0.9-0.95 boxes), look again turned and
            // keep the turn whose faces the recognizer finds most face-like: the raw embedding norm
            // of an upright face is far higher (measured ~3.3-4.6 vs ~1.5-2.6 for turned ones).
            if (faces.isEmpty() || mostlyLying(faces) || mostlyWeak(faces)) {
                double best = totalQuality(embeddings);
                for (int r : new int[] {90, 180, 270}) {
                    Photos.Image turned = Photos.rotate(img, r);
                    List<FaceDetector.Face> f = m.detector.detect(turned);
                    List<FaceEmbedder.Embedding> e = embedAll(m, turned, f);
                    if (totalQuality(e) > best) {
                        best = totalQuality(e);
                        faces = f;
                        embeddings = e;
                        rotation = r;
                        seen = turned;
                    }
                }
            }
            List<FoundFace> out = new ArrayList<>();
            for (int i = 0; i < faces.size(); i++) {
                FaceDetector.Face f = faces.get(i);
                out.add(new FoundFace(unturn(f.box(), rotation, img.width, img.height), f.score(),
                        Photos.faceCrop(seen, f.box(), 0.25, 320), embeddings.get(i)));
            }
            return new Analysed(file, hash, d, rotation, out, null, false, secs(t));
        } catch (KitException e) {
            return new Analysed(file, null, null, 0, List.of(), e.getMessage() + (e.fix() != null ? " -> " + e.fix() : ""), false, secs(t));
        } catch (IOException e) {
            return new Analysed(file, null, null, 0, List.of(), "cannot read " + name + ": " + e.getMessage(), false, secs(t));
        } catch (RuntimeException | OutOfMemoryError e) {
            return new Analysed(file, null, null, 0, List.of(), "unexpected failure on " + name + ": " + e, false, secs(t));
        }
    }

    /** Embeds the faces in reading order (face indices, hence face ids, follow that order). */
    static List<FaceEmbedder.Embedding> embedAll(FaceModels m, Photos.Image img, List<FaceDetector.Face> faces) {
        List<FaceDetector.Face> ordered = FaceDetector.readingOrder(faces);
        faces.clear();
        faces.addAll(ordered);
        List<FaceEmbedder.Embedding> out = new ArrayList<>();
        for (FaceDetector.Face f : faces) out.add(m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f))));
        return out;
    }

    static double totalQuality(List<FaceEmbedder.Embedding> es) {
        double s = 0;
        for (FaceEmbedder.Embedding e : es) s += e.quality();
        return s;
    }

    static boolean mostlyWeak(List<FaceDetector.Face> faces) {
        long weak = faces.stream().filter(f -> f.score() < 0.96f).count();
        return weak * 2 > faces.size();
    }

    static boolean mostlyLying(List<FaceDetector.Face> faces) {
        long lying = faces.stream().filter(f -> f.width() > 1.05f * f.height()).count();
        return lying * 2 > faces.size();
    }

    /** A box found on the photo turned clockwise by {@code rotation} degrees, in the upright photo's pixels (w x h). */
    static float[] unturn(float[] b, int rotation, int w, int h) {
        return Photos.unturnBox(b, rotation, w, h);
    }

    // ------------------------------------------------------------------ the archive writes (one photo at a time)

    /**
     * Writes one analysed photo into the archive: photo file, crops, embeddings, then
     * photo_index.json (the commit point: until it is written the photo is not in the archive,
     * and a re-run redoes it with the same face ids).
     */
    static ObjectNode commit(Analysed a, Options o, String rel, String model, ObjectNode photos, ObjectNode faceToPhoto,
                             ObjectNode index, ArchiveFiles archive, EmbeddingStore store, Set<String> usedNames,
                             List<EmbeddingStore.Face> batchFaces, Map<String, String> batchToPhoto, Map<String, String> batchToFile) throws IOException {
        String original = a.file().getFileName().toString();
        String photoId = a.hash().substring(0, 16);
        String basename = uniqueName(original, o.jobId(), a.hash(), o.photosDir(), usedNames);
        Path target = o.photosDir().resolve(basename);
        if (!Files.exists(target)) AtomicFiles.copy(a.file(), target, false);
        usedNames.add(basename.toLowerCase(Locale.ROOT));

        List<EmbeddingStore.Face> faces = new ArrayList<>();
        ArrayNode faceIds = JsonFiles.MAPPER.createArrayNode();
        ObjectNode rec = JsonFiles.object();
        rec.put("file", rel);
        rec.put("photo_id", photoId);
        rec.put("path", basename);
        ArrayNode facesOut = rec.putArray("faces");
        for (int i = 0; i < a.faces().size(); i++) {
            FoundFace f = a.faces().get(i);
            String faceId = faceId(o.jobId(), basename, i);
            AtomicFiles.write(o.cropsDir().resolve(faceId + ".jpg"), Photos.encodeJpeg(f.crop(), 0.92f));
            float[] b = f.box();
            double area = (b[2] - b[0]) * (double) (b[3] - b[1]);
            double q = Math.max(0, Math.min(1, f.score())) * Math.min(area / 10000.0, 1.0);
            float sigmaSq = (float) (1.0 - (1.0 - 0.01) * q);
            faces.add(new EmbeddingStore.Face(faceId, basename, target.toString(), f.embedding().mu(), sigmaSq, f.score(), b,
                    f.embedding().quality(), model));
            faceIds.add(faceId);
            ObjectNode fo = facesOut.addObject();
            fo.put("face_id", faceId);
            ArrayNode bb = fo.putArray("bbox");
            for (float v : b) bb.add(Math.round(v * 10) / 10.0);
            fo.put("det_score", Math.round(f.score() * 10000) / 10000.0);
        }
        store.append(faces);
        CrashPoint.reach("ingest.before-index");  // crash tests: files and vectors written, photo_index.json not yet

        ObjectNode entry = JsonFiles.object();
        entry.put("path", basename);
        entry.set("face_ids", faceIds);
        String[] labels = labels(a.file(), o);
        entry.put("source", labels[0]);
        entry.put("collection", labels[1]);
        entry.put("source_url", labels[2]);
        entry.put("width", a.decoded().image().width);
        entry.put("height", a.decoded().image().height);
        Photos.Exif exif = a.decoded().exif();
        if (exif.dateTaken() != null) entry.put("date_taken", exif.dateTaken());
        if (exif.camera() != null) entry.put("camera", exif.camera());
        if (exif.latitude() != null) {
            ObjectNode loc = entry.putObject("location");
            loc.put("latitude", exif.latitude());
            loc.put("longitude", exif.longitude());
        }
        entry.put("content_hash", a.hash());
        entry.put("job_id", o.jobId());
        entry.put("original_filename", a.file().getFileName().toString());
        if (a.rotation() != 0) entry.put("faces_found_turned_degrees", a.rotation());
        entry.put("ingested_at", now());
        photos.set(photoId, entry);
        for (EmbeddingStore.Face f : faces) faceToPhoto.put(f.faceId(), photoId);
        archive.writePhotoIndex(index);

        for (EmbeddingStore.Face f : faces) {
            batchFaces.add(f);
            batchToPhoto.put(f.faceId(), photoId);
            batchToFile.put(f.faceId(), basename);
        }
        return rec;
    }

    /** inbox_ + the first 12 hex digits of sha256("job:filename:index") (data-files.md). */
    static String faceId(String jobId, String filename, int index) {
        return FACE_ID_PREFIX + Photos.contentHash((jobId + ":" + filename + ":" + index).getBytes(java.nio.charset.StandardCharsets.UTF_8)).substring(0, 12);
    }

    /**
     * The name the photo is kept under: its own, unless another photo of the archive has it
     * (production builds public URLs from basenames); then "<job>_<name>", then with a number.
     * A file already there with the same bytes (an interrupted earlier run) keeps its name.
     */
    static String uniqueName(String original, String jobId, String hash, Path photosDir, Set<String> used) throws IOException {
        String safe = original.replace('/', '_').replace('\\', '_');
        List<String> candidates = new ArrayList<>();
        candidates.add(safe);
        candidates.add(jobId + "_" + safe);
        int dot = safe.lastIndexOf('.');
        String stem = dot > 0 ? safe.substring(0, dot) : safe, ext = dot > 0 ? safe.substring(dot) : "";
        for (int i = 2; i < 1000; i++) candidates.add(jobId + "_" + stem + "_" + i + ext);
        for (String c : candidates) {
            Path p = photosDir.resolve(c);
            boolean sameBytesThere = Files.isRegularFile(p) && Photos.contentHash(Files.readAllBytes(p)).equals(hash);
            if (used.contains(c.toLowerCase(Locale.ROOT))) continue;
            if (!Files.exists(p) || sameBytesThere) return c;
        }
        throw new KitException("no free name for " + original + " in " + photosDir, "rename the file and ingest it again");
    }

    /** source, collection, source_url: the command line, else the nearest _metadata.json above the file. */
    static String[] labels(Path file, Options o) {
        String source = o.source(), collection = o.collection(), url = null;
        for (Path dir = file.getParent(); dir != null && dir.startsWith(o.directory()); dir = dir.getParent()) {
            Path meta = dir.resolve("_metadata.json");
            if (Files.isRegularFile(meta)) {
                try {
                    JsonNode j = JsonFiles.read(meta);
                    if (source == null) source = j.path("source").asText(null);
                    if (collection == null) collection = j.path("collection").asText(null);
                    url = j.path("source_url").asText(null);
                } catch (IOException | KitException e) {
                    // A broken _metadata.json only loses the labels, never the photo.
                }
                break;
            }
        }
        if (collection == null) collection = source;
        if (source == null) source = collection;
        return new String[] {source == null ? "" : source, collection == null ? "" : collection, url == null ? "" : url};
    }

    // ------------------------------------------------------------------ helpers

    static List<Path> listFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString();
                        String low = n.toLowerCase(Locale.ROOT);
                        return !n.startsWith(".") && !low.endsWith(".json") && !low.endsWith(".txt") && !low.endsWith(".md")
                                && !low.endsWith(".part");
                    })
                    .sorted().toList();
        }
    }

    /** content hash -> photo id for the archive's photos: the recorded hash, else the kept file's. */
    static Map<String, String> knownHashes(ObjectNode photos, Path photosDir) {
        Map<String, String> out = new HashMap<>();
        photos.fields().forEachRemaining(e -> {
            String h = e.getValue().path("content_hash").asText(null);
            if (h == null) {
                Path p = photosDir.resolve(basename(e.getValue().path("path").asText()));
                try {
                    if (Files.isRegularFile(p)) h = Photos.contentHash(Files.readAllBytes(p));
                } catch (IOException ignored) {
                    // unreadable old photo: it simply cannot be recognised as a duplicate
                }
            }
            if (h != null) out.put(h, e.getKey());
        });
        return out;
    }

    static void warnAboutOtherModels(EmbeddingStore store, String model, Console console) {
        Set<String> others = new HashSet<>(store.models());
        others.remove(model);
        if (!others.isEmpty()) {
            console.warn("the archive's stored faces were embedded by " + String.join(", ", others) + ", the new ones by " + model
                    + ": faces of different models cannot be compared, so matching will skip them. "
                    + "Run ./jbang reembed to re-embed every stored photo with " + model + ", or select the other model with ./jbang fetch-models.");
        }
    }

    /** Faces of this job in photo_index but in no identity (an interrupted run): they join the grouping. */
    static void addOrphans(String jobId, ObjectNode index, EmbeddingStore store, String model, ArchiveFiles archive,
                           List<EmbeddingStore.Face> batch, Map<String, String> toPhoto, Map<String, String> toFile) {
        Set<String> inIdentity = new HashSet<>();
        ObjectNode ids = archive.readIdentities();
        ids.path("identities").forEach(ident -> {
            for (String k : new String[] {"anchor_ids", "candidate_ids"}) {
                for (JsonNode a : ident.path(k)) inIdentity.add(a.isObject() ? a.path("face_id").asText() : a.asText());
            }
        });
        index.path("photos").fields().forEachRemaining(e -> {
            if (!jobId.equals(e.getValue().path("job_id").asText())) return;
            for (JsonNode f : e.getValue().path("face_ids")) {
                String id = f.asText();
                if (inIdentity.contains(id) || toPhoto.containsKey(id)) continue;
                EmbeddingStore.Face face = store.get(id);
                if (face == null || !model.equals(face.model())) continue;
                batch.add(face);
                toPhoto.put(id, e.getKey());
                toFile.put(id, e.getValue().path("path").asText());
            }
        });
    }

    static int highestUnidentified(ObjectNode ids) {
        int max = 0;
        for (JsonNode ident : ids.path("identities")) {
            Matcher mm = UNIDENTIFIED.matcher(ident.path("name").asText());
            if (mm.matches()) max = Math.max(max, Integer.parseInt(mm.group(1)));
        }
        return max;
    }

    static String basename(String path) {
        int i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
        return i >= 0 ? path.substring(i + 1) : path;
    }

    static String now() {
        // The archive's own style: microseconds and an explicit offset, e.g. 2026-02-01T21:29:26.548938+00:00
        return OffsetDateTime.now(ZoneOffset.UTC).format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"));
    }

    static double secs(long t) {
        return (System.nanoTime() - t) / 1e9;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
