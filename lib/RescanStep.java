import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rescan: today's detector over photos already in the archive, adding the faces the earlier
 * pipeline missed (it ran at a 640 px input: faces under ~40 px of a 2,000-3,000 px scan were
 * never found). A face found now counts as new only when its box overlaps every stored box of
 * the photo by IoU &lt; {@link #NEW_FACE_IOU}; existing face ids, boxes and identities are never
 * touched.
 *
 * <p>The plan reads only: both archive files and the embedding store are read and checked first;
 * each selected photo is taken from raw_photos/, or, when it is not on this computer, fetched from
 * the bucket (key {@link Names#photoKey}) into the kit's cache {@code .kit/rescan-photos/} — never
 * into the archive, so a dry run changes nothing there (the cache is safe to delete; apply removes
 * each fetched photo once its faces are committed). A photo whose stored faces lack a box cannot
 * be compared and is skipped, named. Then every photo is analysed ({@link PhotoAnalysis}) and the
 * plan holds, per photo, the new faces with their ids, crops and vectors.
 *
 * <p>Apply, after a backup of both archive files, adds each photo's new faces in the order that
 * makes a crash harmless (crops, vectors, then the photo_index.json entry as the commit point,
 * as {@link PhotoRegistration} does), then groups all new faces into new INBOX identities by the
 * usual rules ({@link InboxIdentities}). Faces under 30 px are stored like any other and marked
 * low quality by their box ({@link FaceQuality}): never proposed. A run killed at any point is
 * finished by running it again: same face ids, and faces committed without an identity are grouped.
 * The new crops and records reach the site through the pipeline's upload (it sends the crop of
 * every face of face_to_photo the bucket lacks) and push.
 */
public final class RescanStep implements Step<RescanStep.Plan, RescanStep.Result> {
    /** A face found now is new when its IoU with every stored box of its photo is below this (issue 14). */
    public static final double NEW_FACE_IOU = 0.3;
    /**
     * The "job" part of a new face's id: inbox_ + sha256("rescan:&lt;photo file&gt;:&lt;index&gt;")[:12], the
     * inbox form of data-files.md with "rescan" in the job's place. The index continues after the
     * photo's stored faces (skipping an id the archive already holds), so it never meets an id the
     * ingest gave (those hash the upload job's id), and a killed run re-done gives the same ids: the
     * photo's stored faces only change when its entry is committed. A box-derived id was not chosen
     * because a re-run's box may differ in the last float digit.
     */
    public static final String RESCAN_JOB = "rescan";

    /** Which photos. */
    public enum Scope { ALL, PHOTOS, SINCE }

    /**
     * @param photos        with PHOTOS: photo ids (or photo file names)
     * @param since         with SINCE: photos whose ingested_at is at or after it (photos without one are left out)
     * @param minFace       the smallest face looked for, in the photo's pixels
     * @param maxMegapixels photos whose header declares more pixels are refused without decoding
     */
    public record Options(Scope scope, List<String> photos, Instant since, double minFace, double maxMegapixels) {
        public static Options all() {
            return new Options(Scope.ALL, List.of(), null, FaceDetector.DEFAULT_MIN_FACE, PhotoAnalysis.DEFAULT_MAX_MEGAPIXELS);
        }

        public Options withPhotos(List<String> ids) {
            return new Options(Scope.PHOTOS, List.copyOf(ids), null, minFace, maxMegapixels);
        }

        public Options withSince(Instant t) {
            return new Options(Scope.SINCE, List.of(), t, minFace, maxMegapixels);
        }

        public Options withMinFace(double px) {
            return new Options(scope, photos, since, px, maxMegapixels);
        }

        public Options withMaxMegapixels(double mp) {
            return new Options(scope, photos, since, minFace, mp);
        }
    }

    /** ADD: new faces to add; NOTHING_NEW: every face found is stored already; PROBLEM: skipped, see {@code problem}. */
    public enum Status { ADD, NOTHING_NEW, PROBLEM }

    /** A face to add: its id, box (upright photo pixels), score, and whether it is too small to be proposed. */
    public record NewFace(String faceId, float[] box, float score, boolean lowQuality, @JsonIgnore PhotoAnalysis.FoundFace found) {}

    /**
     * One photo: its stored faces, the new ones, whether it came from the bucket ({@code fetched}),
     * and, for PROBLEM, what is wrong and what to do.
     */
    public record PhotoPlan(String photoId, String file, Status status, int storedFaces, List<NewFace> newFaces, boolean fetched,
                            String problem, @JsonIgnore Path source) {
        public long lowQuality() {
            return newFaces.stream().filter(NewFace::lowQuality).count();
        }
    }

    /**
     * {@code orphanFaceIds}: faces an interrupted earlier rescan committed without an identity (grouped along).
     * {@code notSelected}: photos --since left out because they carry no ingested_at.
     */
    public record Plan(List<PhotoPlan> photos, List<String> orphanFaceIds, String embeddingModel, List<String> warnings,
                       int notSelected, double analysisSeconds, @JsonIgnore PlannedArchive archive) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return facesToAdd() == 0 && orphanFaceIds.isEmpty();
        }

        public int facesToAdd() {
            return photos.stream().mapToInt(p -> p.newFaces().size()).sum();
        }

        public List<PhotoPlan> problems() {
            return photos.stream().filter(p -> p.status() == Status.PROBLEM).toList();
        }

        @Override
        public void print(Console c) {
            for (String w : warnings) c.warn(w);
            if (photos.isEmpty()) c.info("No photo of the archive is selected.");
            for (PhotoPlan p : photos) {
                String name = p.photoId() + " " + Names.printable(p.file());
                switch (p.status()) {
                    case ADD -> c.info(String.format("  add      %s: %d new face%s%s (%d stored)%s", name, p.newFaces().size(),
                            p.newFaces().size() == 1 ? "" : "s", p.lowQuality() > 0 ? ", " + p.lowQuality() + " under 30 px (low quality)" : "",
                            p.storedFaces(), p.fetched() ? ", photo fetched from the bucket" : ""));
                    case NOTHING_NEW -> c.info("  nothing  " + name + ": no new face (" + p.storedFaces() + " stored)");
                    case PROBLEM -> c.error("  skipped  " + name + ": " + p.problem());
                }
            }
            if (notSelected > 0) c.info("  (" + notSelected + " photo(s) have no ingested_at, from the earlier pipeline: --since leaves them out)");
            if (!orphanFaceIds.isEmpty()) {
                c.info("  + " + orphanFaceIds.size() + " face(s) an interrupted earlier rescan added, to be grouped into identities");
            }
            long adding = photos.stream().filter(p -> p.status() == Status.ADD).count();
            c.info(String.format("Would add %d face(s) to %d of %d photo(s); %d photo(s) cannot be rescanned.",
                    facesToAdd(), adding, photos.size(), problems().size()));
        }
    }

    /** What was added to one photo. */
    public record PhotoResult(String photoId, String file, List<String> faceIds) {}

    public record Result(List<PhotoResult> photos, int facesAdded, List<InboxIdentities.Created> identitiesCreated, String backup,
                         double seconds, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (backup != null) c.ok("backed up identities.json and photo_index.json first (./jbang restore --timestamp " + backup + " undoes this)");
            for (PhotoResult p : photos) c.ok(p.photoId() + " " + Names.printable(p.file()) + ": " + p.faceIds().size() + " new face(s)");
            if (facesAdded == 0 && identitiesCreated.isEmpty()) {
                c.info("Nothing added.");
                return;
            }
            c.info(String.format("Done: %d face(s) added to %d photo(s), %d new INBOX identit%s, %.1f s. "
                            + "./jbang upload --execute and ./jbang push carry them to the bucket and the site.", facesAdded, photos.size(),
                    identitiesCreated.size(), identitiesCreated.size() == 1 ? "y" : "ies", seconds));
        }
    }

    private final Options options;
    private final FaceModels sharedModels;

    /** Loads the face models itself when there is a photo to analyse, and closes them after. */
    public RescanStep(Options options) {
        this(options, null);
    }

    /** Uses {@code models}, opened once by the caller and closed by it. */
    public RescanStep(Options options, FaceModels models) {
        this.options = options;
        this.sharedModels = models;
    }

    @Override
    public String name() {
        return "rescan";
    }

    /** Where photos fetched from the bucket wait: the kit's cache, never the archive. */
    public static Path cache(Layout layout) {
        return layout.kitCache().resolve("rescan-photos");
    }

    // ------------------------------------------------------------------ plan (reads only)

    /** A selected photo while planning. */
    private static final class Draft {
        final String photoId, file;
        final JsonNode entry;
        final List<float[]> storedBoxes = new ArrayList<>();
        int storedFaces;
        Path source;
        boolean fetched;
        String problem;
        PhotoAnalysis.Analysed analysed;

        Draft(String photoId, String file, JsonNode entry) {
            this.photoId = photoId;
            this.file = file;
            this.entry = entry;
        }
    }

    @Override
    public Plan plan(KitContext ctx) throws Exception {
        Layout layout = ctx.layout();
        PlannedArchive archive = PlannedArchive.read(layout);
        // Faces found by one model cannot sit beside another model's: said before any photo is read
        // (ModelCheck's rule, on the store just read rather than reading it a second time).
        ModelCheck.beforeWork(layout, archive.store, ctx.console(), ModelCheck.OnMismatch.REFUSE);
        ObjectNode identities = archive.identities;
        ObjectNode index = archive.index;
        EmbeddingStore store = archive.store;

        List<Draft> drafts = new ArrayList<>();
        int[] notSelected = {0};
        select(index, drafts, notSelected);

        // Stored boxes first: a photo that cannot be compared is neither fetched nor analysed.
        Map<String, List<String>> facesOfPhoto = new HashMap<>();
        index.path("face_to_photo").fields().forEachRemaining(e -> facesOfPhoto.computeIfAbsent(e.getValue().asText(), k -> new ArrayList<>()).add(e.getKey()));
        for (Draft d : drafts) {
            if (d.problem != null) continue;
            Set<String> ids = new LinkedHashSet<>();
            d.entry.path("face_ids").forEach(f -> ids.add(f.asText()));
            ids.addAll(facesOfPhoto.getOrDefault(d.photoId, List.of()));
            d.storedFaces = ids.size();
            for (String id : ids) {
                EmbeddingStore.Face f = store.get(id);
                if (f == null || f.bbox() == null || f.bbox().length < 4) {
                    d.problem = "its face " + Names.printable(id) + " has no box in the embedding store (" + store.folder()
                            + "), so a face found now cannot be told from it -> skipped; restore the store from a backup, "
                            + "or leave this photo out (--photo)";
                    break;
                }
                d.storedBoxes.add(f.bbox());
            }
        }

        locatePhotos(drafts, ctx);

        List<Draft> toAnalyse = drafts.stream().filter(d -> d.problem == null).toList();
        String model = sharedModels != null ? sharedModels.embeddingModel : null;
        double analysisSeconds = 0;
        if (!toAnalyse.isEmpty()) {
            ctx.console().section("Rescan: finding faces in " + toAnalyse.size() + " photo(s) of the archive");
            List<PhotoAnalysis.Task> tasks = toAnalyse.stream().map(d -> new PhotoAnalysis.Task(d.source, d.file)).toList();
            PhotoAnalysis.Batch batch = PhotoAnalysis.analyseBatch(tasks, sharedModels, layout.models(), options.minFace(), options.maxMegapixels(), ctx.console());
            model = batch.embeddingModel();
            analysisSeconds = batch.seconds();
            for (int i = 0; i < batch.outcomes().size(); i++) {
                PhotoAnalysis.Outcome o = batch.outcomes().get(i);
                if (o.problem() != null) toAnalyse.get(i).problem = Names.printable(o.problem());
                else toAnalyse.get(i).analysed = o.analysed();
            }
        }

        Set<String> taken = archiveFaceIds(index, identities);
        List<PhotoPlan> plans = new ArrayList<>();
        for (Draft d : drafts) {
            if (d.problem != null) {
                plans.add(new PhotoPlan(d.photoId, d.file, Status.PROBLEM, d.storedFaces, List.of(), d.fetched, d.problem, d.source));
                continue;
            }
            List<NewFace> found = new ArrayList<>();
            int next = d.entry.path("face_ids").size();
            for (PhotoAnalysis.FoundFace f : d.analysed.faces()) {
                if (!isNew(f.box(), d.storedBoxes)) continue;
                String id;
                do id = PhotoRegistration.faceId(RESCAN_JOB, Names.basename(d.file), next++); while (taken.contains(id));
                taken.add(id);
                found.add(new NewFace(id, f.box(), f.score(), FaceQuality.lowQuality(f.box()), f));
            }
            plans.add(new PhotoPlan(d.photoId, d.file, found.isEmpty() ? Status.NOTHING_NEW : Status.ADD, d.storedFaces, found,
                    d.fetched, null, d.source));
        }

        if (model == null) model = ModelCatalog.activeEmbeddingModel(layout.models());
        List<String> orphans = new ArrayList<>();
        for (Draft d : drafts) {
            for (String id : orphansOf(d, identities)) {
                EmbeddingStore.Face f = store.get(id);
                if (f != null && f.model().equals(model)) orphans.add(id);
            }
        }
        List<String> warnings = new ArrayList<>();
        PlannedArchive.ForModel forModel = archive.forModel(model, layout);
        if (forModel.otherModels() != null && plans.stream().anyMatch(p -> p.status() == Status.ADD)) warnings.add(forModel.otherModels());
        return new Plan(plans, orphans, model, warnings, notSelected[0], analysisSeconds, forModel.archive());
    }

    /** The selected photos, in photo_index.json order; an unknown --photo is a PROBLEM line of its own. */
    private void select(ObjectNode index, List<Draft> out, int[] notSelected) {
        JsonNode photos = index.path("photos");
        switch (options.scope()) {
            case ALL -> photos.fields().forEachRemaining(e -> out.add(new Draft(e.getKey(), e.getValue().path("path").asText(), e.getValue())));
            case SINCE -> photos.fields().forEachRemaining(e -> {
                Instant at = ingestedAt(e.getValue());
                if (at == null) notSelected[0]++;
                else if (!at.isBefore(options.since())) out.add(new Draft(e.getKey(), e.getValue().path("path").asText(), e.getValue()));
            });
            case PHOTOS -> {
                Set<String> seen = new HashSet<>();
                for (String wanted : options.photos()) {
                    String id = photos.has(wanted) ? wanted : null;
                    if (id == null) {
                        for (var it = photos.fields(); it.hasNext() && id == null; ) {
                            var e = it.next();
                            if (Names.basename(e.getValue().path("path").asText()).equals(wanted)) id = e.getKey();
                        }
                    }
                    if (id == null) {
                        Draft d = new Draft(wanted, wanted, JsonFiles.object());
                        d.problem = "no photo with this id or file name in photo_index.json -> ./jbang rescan --dry-run lists the archive's photos";
                        out.add(d);
                    } else if (seen.add(id)) {
                        out.add(new Draft(id, photos.get(id).path("path").asText(), photos.get(id)));
                    }
                }
            }
        }
    }

    private static Instant ingestedAt(JsonNode entry) {
        String s = entry.path("ingested_at").asText(null);
        if (s == null) return null;
        try {
            return OffsetDateTime.parse(s).toInstant();
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /**
     * Each photo's file: raw_photos/&lt;basename&gt;, else a copy fetched earlier into the cache, else
     * fetched from the bucket into the cache. A recorded content_hash is checked on fetched copies.
     */
    private static void locatePhotos(List<Draft> drafts, KitContext ctx) {
        Layout layout = ctx.layout();
        List<Draft> remote = new ArrayList<>();
        for (Draft d : drafts) {
            if (d.problem != null) continue;
            Path local = layout.photos().resolve(Names.basename(d.file));
            if (Files.isRegularFile(local)) {
                d.source = local;
                continue;
            }
            Path cached = cache(layout).resolve(Names.basename(d.file));
            if (Files.isRegularFile(cached) && hashMatches(cached, d.entry)) {
                d.source = cached;
                d.fetched = true;
            } else {
                remote.add(d);
            }
        }
        if (remote.isEmpty()) return;
        List<String> missingSettings = StoreSettings.missing(ctx.config());
        if (!missingSettings.isEmpty()) {
            for (Draft d : remote) {
                d.problem = "not on this computer (" + layout.photos().resolve(Names.basename(d.file)) + ") and the bucket cannot be asked: "
                        + String.join(", ", missingSettings) + " not set -> put the photo in " + layout.photos() + ", or set the R2_* variables in .env";
            }
            return;
        }
        StoreSettings settings = StoreSettings.from(ctx.config());
        ctx.console().info(remote.size() + " photo(s) are not on this computer: fetching them from the " + settings + " into " + cache(layout));
        try (ObjectStore bucket = ObjectStore.open(settings, 1)) {
            for (Draft d : remote) {
                String key = Names.photoKey(d.file);
                Path target = cache(layout).resolve(Names.basename(d.file));
                try {
                    if (!bucket.download(key, target)) {
                        d.problem = "not on this computer (" + layout.photos().resolve(Names.basename(d.file)) + ") nor in the bucket (key "
                                + Names.printable(key) + ") -> put the photo in " + layout.photos() + " (or upload it to the bucket) and rescan it";
                    } else if (!hashMatches(target, d.entry)) {
                        Files.deleteIfExists(target);
                        d.problem = "the bucket's copy (key " + Names.printable(key) + ") is not the archived photo (its content hash differs)"
                                + " -> put the original in " + layout.photos() + " and rescan it";
                    } else {
                        d.source = target;
                        d.fetched = true;
                    }
                } catch (KitException e) {
                    d.problem = e.getMessage() + (e.fix() != null ? " -> " + e.fix() : "");
                } catch (IOException e) {
                    d.problem = "cannot keep the photo fetched from the bucket in " + cache(layout) + ": " + e.getMessage()
                            + " -> check the free disk space and the permissions of " + layout.kitCache();
                }
            }
        }
    }

    private static boolean hashMatches(Path file, JsonNode entry) {
        String want = entry.path("content_hash").asText(null);
        if (want == null) return true;
        try {
            return Photos.contentHash(Files.readAllBytes(file)).equals(want);
        } catch (IOException e) {
            return false;
        }
    }

    /** True when {@code box} overlaps every stored box by less than NEW_FACE_IOU. */
    static boolean isNew(float[] box, List<float[]> stored) {
        for (float[] s : stored) if (FaceDetector.iou(box, s) >= NEW_FACE_IOU) return false;
        return true;
    }

    /** Every face id the archive holds: in face_to_photo, in a photo's face_ids, or in an identity. */
    private static Set<String> archiveFaceIds(JsonNode index, JsonNode identities) {
        Set<String> out = new HashSet<>();
        index.path("face_to_photo").fieldNames().forEachRemaining(out::add);
        index.path("photos").forEach(p -> p.path("face_ids").forEach(f -> out.add(f.asText())));
        out.addAll(facesInIdentities(identities));
        return out;
    }

    private static Set<String> facesInIdentities(JsonNode identities) {
        Set<String> out = new HashSet<>();
        identities.path("identities").forEach(ident -> {
            for (String k : new String[] {"anchor_ids", "candidate_ids"}) {
                for (JsonNode a : ident.path(k)) out.add(a.isObject() ? a.path("face_id").asText() : a.asText());
            }
        });
        return out;
    }

    /**
     * Faces of the photo that an interrupted rescan committed but never put in an identity: ids of
     * the rescan form (any index up to the photo's face count, plus room for skipped ids) in no identity.
     * Faces of other origins are never touched, even when they are in no identity.
     */
    private static List<String> orphansOf(Draft d, JsonNode identities) {
        if (d.entry.path("face_ids").isEmpty()) return List.of();
        Set<String> inIdentity = null;
        List<String> out = new ArrayList<>();
        int n = d.entry.path("face_ids").size();
        Set<String> rescanIds = null;
        for (JsonNode f : d.entry.path("face_ids")) {
            String id = f.asText();
            if (!id.startsWith(PhotoRegistration.FACE_ID_PREFIX)) continue;
            if (rescanIds == null) {
                rescanIds = new HashSet<>();
                for (int k = 0; k < n + 64; k++) rescanIds.add(PhotoRegistration.faceId(RESCAN_JOB, Names.basename(d.file), k));
            }
            if (!rescanIds.contains(id)) continue;
            if (inIdentity == null) inIdentity = facesInIdentities(identities);
            if (!inIdentity.contains(id)) out.add(id);
        }
        return out;
    }


    // ------------------------------------------------------------------ apply

    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        long t0 = System.nanoTime();
        Console c = ctx.console();
        Layout layout = ctx.layout();
        List<String> failures = new ArrayList<>();
        for (PhotoPlan p : plan.problems()) failures.add(p.photoId() + " " + Names.printable(p.file()) + ": " + p.problem());
        List<PhotoResult> done = new ArrayList<>();
        if (plan.nothingToDo()) return new Result(done, 0, List.of(), null, (System.nanoTime() - t0) / 1e9, failures);

        try (DataLock lock = DataLock.acquire(layout.data(), "rescan")) {
            if (lock.staleLockReport() != null) c.warn(lock.staleLockReport());
            plan.archive().snapshot.checkUnchanged(layout, "rescan");
            Backups.Backup backup = new Backups(layout.data()).create();
            PlannedArchive state = plan.archive();
            ArchiveFiles files = new ArchiveFiles(layout.data());
            ObjectNode photosInIndex = (ObjectNode) state.index.get("photos");
            InboxIdentities.Waiting waiting = new InboxIdentities.Waiting();
            int added = 0;
            for (PhotoPlan p : plan.photos()) {
                if (p.status() != Status.ADD) continue;
                try {
                    List<EmbeddingStore.Face> faces = addFaces(p, state, files, layout, plan.embeddingModel());
                    CrashPoint.reach("rescan.photo");  // crash tests: a photo's new faces committed, no identities yet
                    for (EmbeddingStore.Face f : faces) waiting.add(f, p.photoId(), p.file());
                    done.add(new PhotoResult(p.photoId(), p.file(), faces.stream().map(EmbeddingStore.Face::faceId).toList()));
                    added += faces.size();
                    if (p.fetched()) deleteQuietly(p.source());
                } catch (KitException e) {
                    String msg = p.photoId() + " " + Names.printable(p.file()) + ": " + e.getMessage() + (e.fix() != null ? " -> " + e.fix() : "");
                    c.error(msg);
                    failures.add(msg);
                } catch (IOException e) {
                    String msg = p.photoId() + " " + Names.printable(p.file()) + ": cannot write its new faces: "
                            + (e instanceof AtomicFiles.FolderNotWritable ? "" : e.getClass().getSimpleName() + ": ") + e.getMessage()
                            + " -> fix that and rescan it (the photo's record is as before)";
                    c.error(msg);
                    failures.add(msg);
                }
            }
            for (String id : plan.orphanFaceIds()) {
                EmbeddingStore.Face f = state.store.get(id);
                String photoId = state.index.path("face_to_photo").path(id).asText(null);
                if (f != null && photoId != null) waiting.add(f, photoId, photosInIndex.path(photoId).path("path").asText());
            }
            List<InboxIdentities.Created> created = List.of();
            if (!waiting.isEmpty()) {
                ObjectNode before = state.identities.deepCopy();
                try {
                    created = InboxIdentities.add(state.identities, RESCAN_JOB, waiting, state.groupingThreshold);
                    for (InboxIdentities.Created k : created) {
                        ((ObjectNode) state.identities.get("identities").get(k.identityId()).get("provenance")).put("source", "rescan");
                    }
                    files.writeIdentities(state.identities);
                } catch (KitException e) {
                    state.identities.removeAll();
                    state.identities.setAll(before);
                    created = List.of();
                    String msg = e.getMessage() + (e.fix() != null ? " -> " + e.fix() : "") + "; the next rescan of these photos groups their new faces";
                    c.error(msg);
                    failures.add(ArchiveFiles.IDENTITIES + ": " + msg);
                }
            }
            return new Result(done, added, created, backup == null ? null : backup.label(), (System.nanoTime() - t0) / 1e9, failures);
        }
    }

    /** A fetched copy is only a cache entry: failing to remove it is no failure of the rescan. */
    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // stays in the cache, safe to delete by hand
        }
    }

    /**
     * Adds one photo's new faces: crops, vectors, then its photo_index.json entry (the commit
     * point). On a failure the documents in memory go back to what is on disk.
     */
    private static List<EmbeddingStore.Face> addFaces(PhotoPlan p, PlannedArchive state, ArchiveFiles files, Layout layout, String model)
            throws IOException {
        List<EmbeddingStore.Face> faces = new ArrayList<>();
        Map<Path, byte[]> crops = new LinkedHashMap<>();
        Path file = layout.photos().resolve(Names.basename(p.file()));
        for (NewFace f : p.newFaces()) {
            crops.put(layout.crops().resolve(f.faceId() + ".jpg"), f.found().cropJpeg());
            faces.add(PhotoRegistration.storedFace(f.faceId(), Names.basename(p.file()), file, f.found(), model));
        }
        AtomicFiles.writeAll(crops);
        state.store.append(faces);
        CrashPoint.reach("rescan.before-index");  // crash tests: crops and vectors written, photo_index.json not yet

        ObjectNode entry = (ObjectNode) state.index.get("photos").get(p.photoId());
        ArrayNode ids = entry.has("face_ids") ? (ArrayNode) entry.get("face_ids") : entry.putArray("face_ids");
        ObjectNode faceToPhoto = state.index.has("face_to_photo") ? (ObjectNode) state.index.get("face_to_photo") : state.index.putObject("face_to_photo");
        int before = ids.size();
        for (EmbeddingStore.Face f : faces) {
            ids.add(f.faceId());
            faceToPhoto.put(f.faceId(), p.photoId());
        }
        try {
            files.writePhotoIndex(state.index);
        } catch (KitException e) {
            while (ids.size() > before) ids.remove(ids.size() - 1);
            for (EmbeddingStore.Face f : faces) faceToPhoto.remove(f.faceId());
            throw e;
        }
        return faces;
    }
}
