///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java ../lib/Timestamps.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/JobLedger.java ../lib/Names.java ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/ModelCatalog.java ../lib/Photos.java
//SOURCES ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/NpyPickleReader.java ../lib/ModelCheck.java

/*
 * reembed — re-embeds every face of the archive from the stored photos with the active model.
 *
 * Faces embedded by different models cannot be compared (a w600k_r50 vector and a fr_feature
 * vector live in different spaces), so after a change of recognizer — or to bring the
 * archive's old InsightFace faces into the default model's space — every face is embedded
 * again. Face ids never change (identities refer to them): each stored face keeps its id and
 * box; the photo is decoded from raw_photos/, the face is found again there (the detection
 * overlapping its stored box gives the alignment points; else the landmark model is run on the
 * stored box), aligned and embedded.
 *
 * The store is rewritten atomically, once, at the end; its previous segments are first copied
 * to data/backups/embeddings.<timestamp>/ (the legacy data/embeddings.npy is never touched).
 * A face whose photo is missing or unreadable keeps its old vector and model tag, and is listed.
 *
 * Options:  --data-dir D, --photos-dir P, --models-dir M   the archive's folders (also --crops-dir, --pending-dir)
 *           --dry-run     only count what would be re-embedded; writes nothing
 *           --json        one JSON summary on stdout
 * Example:  ./jbang reembed --dry-run
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "reembed", mixinStandardHelpOptions = true,
        description = {"Re-embeds every face of the archive from the stored photos with the active recognizer, keeping face",
                "ids and boxes, so that all faces can be compared again. The previous store is copied to",
                "data/backups/embeddings.<timestamp>/ first. --dry-run only counts, and writes nothing.", "",
                "Example: ./jbang reembed --dry-run"})
public class reembed implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    public static void main(String... argv) {
        StepMain.exit(new reembed(), argv);
    }

    @Override
    public Integer call() throws Exception {
        KitContext ctx = KitOptions.context(out, folders, dryRun.dryRun);
        // Said first: with InsightFace's files at hand, fetch-models --from-insightface keeps the archive's vectors instead.
        ModelCheck.beforeWork(ctx.layout(), ctx.console(), ModelCheck.OnMismatch.WARN);
        ObjectNode s = run(ctx, Optional.empty());
        ctx.console().emitJson(s);
        return s.path("kept_old").isEmpty() ? StepMain.OK : StepMain.FAILED;
    }

    /** The new vector of one face, or why it has none. */
    record Redone(EmbeddingStore.Face face, String problem) {}

    /**
     * Re-embeds every face of {@code ctx}'s archive (a dry run only counts). {@code shared}: models
     * the caller opened and closes (the tests'); empty: the active models are opened here and closed after.
     */
    public static ObjectNode run(KitContext ctx, Optional<FaceModels> shared) throws Exception {
        Path dataDir = ctx.layout().data(), photosDir = ctx.layout().photos(), modelsDir = ctx.layout().models();
        boolean dryRun = ctx.dryRun();
        Console console = ctx.console();
        FaceModels models = shared.orElse(null);
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "reembed");
        summary.put("dry_run", dryRun);
        // A dry run only counts: it takes no lock (which would create data/.kit.lock) and writes nothing.
        try (DataLock lock = dryRun ? null : DataLock.acquire(dataDir, "reembed")) {
            EmbeddingStore store = EmbeddingStore.open(dataDir);
            ObjectNode index = new ArchiveFiles(dataDir).readPhotoIndex();
            String target = models != null ? models.embeddingModel : ModelCatalog.activeEmbeddingModel(modelsDir);
            Map<String, Integer> byModel = new TreeMap<>();
            for (EmbeddingStore.Face f : store.faces()) byModel.merge(f.model(), 1, Integer::sum);
            console.section("Re-embedding " + store.size() + " faces with " + target);
            byModel.forEach((m, n) -> console.info("  " + n + " faces now embedded by " + m));
            summary.put("model", target);
            summary.set("faces_by_model_before", JsonFiles.MAPPER.valueToTree(byModel));

            // Plan: faces grouped by the photo they are in.
            Map<String, List<EmbeddingStore.Face>> byPhoto = new LinkedHashMap<>();
            Map<String, String> photoFile = new LinkedHashMap<>();
            for (EmbeddingStore.Face f : store.faces()) {
                String photoId = index.path("face_to_photo").path(f.faceId()).asText(null);
                JsonNode entry = photoId == null ? null : index.path("photos").get(photoId);
                String name = entry != null ? entry.path("path").asText() : f.filename();
                String key = photoId != null ? photoId : "file:" + name;
                byPhoto.computeIfAbsent(key, k -> new ArrayList<>()).add(f);
                photoFile.put(key, name);
            }
            summary.put("faces", store.size());
            summary.put("photos", byPhoto.size());
            if (dryRun) {
                long missing = photoFile.values().stream().filter(n -> !Files.isRegularFile(photosDir.resolve(n))).count();
                console.info("Would re-embed " + store.size() + " faces of " + byPhoto.size() + " photos from " + photosDir
                        + (missing > 0 ? " (" + missing + " photos are missing there: their faces would keep their old vectors)" : ""));
                summary.put("photos_missing", missing);
                return summary;
            }
            boolean own = shared.isEmpty();
            if (own) models = FaceModels.open(modelsDir, 1);
            final FaceModels m = models;
            List<Redone> results = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(FaceModels.cores(), FaceModels.workerThreads("reembed"));
            try (ProgressBar bar = console.progress("Re-embedding", byPhoto.size(), false)) {
                List<Future<List<Redone>>> futures = new ArrayList<>();
                for (var e : byPhoto.entrySet()) {
                    JsonNode entry = index.path("photos").get(e.getKey());
                    int turned = entry == null ? 0 : entry.path("faces_found_turned_degrees").asInt(0);
                    Path file = photosDir.resolve(photoFile.get(e.getKey()));
                    futures.add(pool.submit(() -> {
                        List<Redone> r = redo(m, file, turned, e.getValue());
                        bar.advance(1);
                        return r;
                    }));
                }
                for (Future<List<Redone>> f : futures) results.addAll(f.get());
            } finally {
                pool.shutdownNow();
                if (own) models.close();
            }

            // Keep the store's order; faces that could not be redone keep their old vector.
            Map<String, Redone> done = new LinkedHashMap<>();
            for (Redone r : results) done.put(r.face().faceId(), r);
            List<EmbeddingStore.Face> all = new ArrayList<>();
            ArrayNode kept = summary.putArray("kept_old");
            for (EmbeddingStore.Face f : store.faces()) {
                Redone r = done.get(f.faceId());
                if (r == null || r.problem() != null) {
                    all.add(f);
                    ObjectNode k = kept.addObject();
                    k.put("face_id", f.faceId());
                    k.put("problem", r == null ? "not processed" : r.problem());
                } else {
                    all.add(r.face());
                }
            }
            int redone = all.size() - kept.size();
            if (redone == 0) {
                console.warn("no face could be re-embedded: the store is left as it was");
            } else {
                if (Files.isDirectory(store.folder())) {
                    Path backup = freshFolder(dataDir.resolve("backups"), "embeddings." + Timestamps.label());
                    copyFolder(store.folder(), backup);
                    console.ok("previous store copied to " + backup);
                    summary.put("backup", backup.toString());
                }
                store.replaceAll(all);
                console.ok("re-embedded " + redone + " of " + all.size() + " faces with " + target);
            }
            for (JsonNode k : kept) console.warn(k.get("face_id").asText() + " keeps its old vector: " + k.get("problem").asText());
            summary.put("reembedded", redone);
        }
        return summary;
    }

    /** Finds the photo's stored faces again and embeds them with the active model. */
    static List<Redone> redo(FaceModels m, Path file, int turned, List<EmbeddingStore.Face> faces) {
        List<Redone> out = new ArrayList<>();
        Photos.Image img;
        try {
            if (!Files.isRegularFile(file)) throw new KitException("photo " + file + " is missing", null);
            img = Photos.decode(file).image();
        } catch (KitException e) {
            for (EmbeddingStore.Face f : faces) out.add(new Redone(f, e.getMessage()));
            return out;
        }
        Photos.Image seen = Photos.rotate(img, turned);
        List<FaceDetector.Face> found = m.detector.detect(seen);
        for (EmbeddingStore.Face f : faces) {
            try {
                // The stored box is in the upright photo; the face was embedded on the photo turned by `turned`.
                float[] box = turned == 0 ? f.bbox() : ingestTurn(f.bbox(), turned, seen);
                FaceDetector.Face best = null;
                double bestIou = 0.3;
                for (FaceDetector.Face d : found) {
                    double iou = FaceDetector.iou(d.box(), box);
                    if (iou >= bestIou) {
                        best = d;
                        bestIou = iou;
                    }
                }
                if (best == null) best = new FaceDetector.Face(box, f.detScore(), null);
                FaceEmbedder.Embedding e = m.embedder.embed(m.aligner.align(seen, m.aligner.fivePoints(seen, best)));
                out.add(new Redone(new EmbeddingStore.Face(f.faceId(), f.filename(), f.filepath(), e.mu(), f.sigmaSq(), f.detScore(),
                        f.bbox(), e.quality(), m.embeddingModel), null));
            } catch (KitException e) {
                out.add(new Redone(f, e.getMessage()));
            }
        }
        return out;
    }

    /** An upright box as it lies on the photo turned clockwise by {@code turned} degrees ({@code seen}). */
    static float[] ingestTurn(float[] upright, int turned, Photos.Image seen) {
        // Turning {@code seen} back by (360 - turned) gives the upright photo, so the mapping is unturn's.
        return Photos.unturnBox(upright, (360 - turned) % 360, seen.width, seen.height);
    }

    /** parent/name, or parent/name-2, -3 ... when taken (two runs in one second never share a backup). */
    static Path freshFolder(Path parent, String name) {
        Path p = parent.resolve(name);
        for (int i = 2; Files.exists(p); i++) p = parent.resolve(name + "-" + i);
        return p;
    }

    static void copyFolder(Path from, Path to) throws java.io.IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) AtomicFiles.copy(p, to.resolve(p.getFileName()), false);
        }
    }
}
