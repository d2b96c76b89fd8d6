import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Step 3 — ingest: the photos of one or more upload jobs become archive entries. The plan reads
 * and checks both archive files and the embedding store before anything else, then analyses
 * every photo (decode, find, align and embed its faces; the heavy parallel part, models loaded
 * once) and says per photo what it would add: its faces and the name it would be kept under, or
 * which photo it duplicates, or why it cannot be added (damaged, HEIC, too many pixels, ...).
 * A dry run stops there and writes nothing.
 *
 * <p>Apply registers the analysed photos exactly as planned, one at a time ({@link PhotoRegistration}:
 * photo, crops, vectors, photo_index.json last), groups each job's new faces into new INBOX
 * identities ({@link InboxIdentities}), and records in the job ledger every job whose every
 * file is in the archive (added now or before): its photo ids and "ingested". A job with any
 * file that could not be added stays un-ingested, so it stays staged on the site. A run killed
 * at any point is finished by the next one (same names, same face ids, orphan faces grouped).
 */
public final class IngestStep implements Step<IngestStep.Plan, IngestStep.Result> {

    /**
     * What to ingest. {@code folders} empty: every job the ledger shows downloaded and not yet
     * ingested, each in {@code pending/<job>} (the pipeline's choice).
     *
     * @param minFace       the smallest face looked for, in the photo's pixels
     * @param maxMegapixels photos whose header declares more pixels are refused without decoding
     */
    public record Options(List<UploadFolder> folders, UploadFolder.Labels labels, double minFace, double maxMegapixels) {
        /** Every downloaded job of the ledger not yet ingested. */
        public static Options downloadedJobs() {
            return new Options(List.of(), UploadFolder.Labels.FROM_METADATA, FaceDetector.DEFAULT_MIN_FACE,
                    PhotoAnalysis.DEFAULT_MAX_MEGAPIXELS);
        }

        /** These folders, each one job. */
        public static Options folders(List<UploadFolder> folders) {
            return downloadedJobs().withFolders(folders);
        }

        public Options withFolders(List<UploadFolder> f) {
            return new Options(List.copyOf(f), labels, minFace, maxMegapixels);
        }

        public Options withLabels(UploadFolder.Labels l) {
            return new Options(folders, l, minFace, maxMegapixels);
        }

        public Options withMinFace(double px) {
            return new Options(folders, labels, px, maxMegapixels);
        }

        public Options withMaxMegapixels(double mp) {
            return new Options(folders, labels, minFace, mp);
        }

        public boolean fromLedger() {
            return folders.isEmpty();
        }
    }

    /** What the plan decided for one file. */
    public enum Action { ADD, DUPLICATE, REFUSED }

    /**
     * One file of a job: ADD (its faces, the name it would be kept under, its photo id),
     * DUPLICATE ({@code duplicateOf}: the photo already holding these bytes) or REFUSED ({@code problem}).
     */
    public record PhotoPlan(String file, Action action, String photoId, String keptAs, int faces, int turnedDegrees,
                            String duplicateOf, String problem, @JsonIgnore PhotoRegistration.Photo registration) {}

    /**
     * One job: its files, the faces an interrupted earlier run registered without an identity
     * (grouped along), whether every file will be in the archive ({@code willBeIngested}), and a
     * problem that keeps the whole job out (its folder is missing). {@code uploadJob}: the ledger
     * knows it as downloaded from the site, so it records the job's photo ids and "ingested";
     * a folder that never came from the site (photos ingested by hand, the sandbox's seed) is
     * no upload job and leaves the ledger alone.
     */
    public record JobPlan(String jobId, String folder, List<PhotoPlan> photos, List<String> orphanFaceIds,
                          boolean willBeIngested, boolean uploadJob, boolean ingestedBefore, String problem) {
        public long count(Action a) {
            return photos.stream().filter(p -> p.action() == a).count();
        }

        boolean changesSomething() {
            return count(Action.ADD) > 0 || !orphanFaceIds.isEmpty() || (willBeIngested && uploadJob && !ingestedBefore);
        }
    }

    public record Plan(List<JobPlan> jobs, String embeddingModel, List<String> warnings, double analysisSeconds,
                       @JsonIgnore PlannedArchive archive) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return jobs.stream().noneMatch(JobPlan::changesSomething);
        }

        public long count(Action a) {
            return jobs.stream().mapToLong(j -> j.count(a)).sum();
        }

        public int facesToAdd() {
            return jobs.stream().flatMap(j -> j.photos().stream()).mapToInt(PhotoPlan::faces).sum();
        }

        @Override
        public void print(Console c) {
            if (jobs.isEmpty()) {
                c.info("No downloaded upload waiting to be ingested.");
                return;
            }
            for (String w : warnings) c.warn(w);
            for (JobPlan j : jobs) {
                c.info("Job " + Names.printable(j.jobId()) + " (" + Names.printable(j.folder()) + "): " + j.photos().size() + " file(s)"
                        + (j.ingestedBefore() ? ", ingested before" : "")
                        + (j.uploadJob() ? "" : "; not an upload job of the ledger (" + JobLedger.FILE + "), so nothing is recorded there"));
                if (j.problem() != null) c.error("  " + j.problem());
                for (PhotoPlan p : j.photos()) {
                    String f = Names.printable(p.file());
                    switch (p.action()) {
                        case ADD -> c.info(String.format("  add        %s: %d face%s%s -> %s", f, p.faces(), p.faces() == 1 ? "" : "s",
                                p.turnedDegrees() != 0 ? " (found turned " + p.turnedDegrees() + " degrees)" : "", Names.printable(p.keptAs())));
                        case DUPLICATE -> c.info("  duplicate  " + f + ": already photo " + p.duplicateOf());
                        case REFUSED -> c.info("  refused    " + f + ": " + p.problem());
                    }
                }
                if (!j.orphanFaceIds().isEmpty()) {
                    c.info("  + " + j.orphanFaceIds().size() + " face(s) an interrupted earlier run registered, to be grouped into identities");
                }
                if (!j.willBeIngested()) c.info("  -> the job would stay staged (not ingested) until the files above are fixed");
            }
            c.info(String.format("Would add %d photo(s) with %d face(s); %d duplicate(s); %d file(s) cannot be added.",
                    count(Action.ADD), facesToAdd(), count(Action.DUPLICATE), count(Action.REFUSED)));
        }
    }

    public record AddedFace(String faceId, double[] bbox, double detScore) {}

    public record AddedPhoto(String file, String photoId, String keptAs, int turnedDegrees, List<AddedFace> faces) {}

    public record Duplicate(String file, String photoId) {}

    /** A file (or the job's identities) that did not make it; the message names it and says what to do. */
    public record FileError(String file, String message) {}

    /**
     * One job's outcome. {@code ingested}: every file of the job is in the archive (added now or
     * before); {@code recorded}: the ledger now says so (upload jobs only). {@code photoIds}: the
     * archive's photos of the job, added and duplicates alike.
     */
    public record JobResult(String jobId, int photosAdded, int facesFound, List<AddedPhoto> added, List<Duplicate> duplicates,
                            List<FileError> errors, List<InboxIdentities.Created> identitiesCreated, boolean ingested,
                            boolean recorded, List<String> photoIds) {}

    public record Result(List<JobResult> jobs, int photosAdded, int facesFound, double seconds, List<String> failures)
            implements Step.Result {
        @Override
        public void print(Console c) {
            for (JobResult j : jobs) {
                String line = String.format("job %s: %d photo(s) added (%d faces), %d duplicate(s), %d problem(s), %d new INBOX identit%s",
                        Names.printable(j.jobId()), j.photosAdded(), j.facesFound(), j.duplicates().size(), j.errors().size(),
                        j.identitiesCreated().size(), j.identitiesCreated().size() == 1 ? "y" : "ies");
                if (j.ingested()) c.ok(line + "; ingested");
                else c.warn(line + "; it stays staged on the site until its problems are fixed");
            }
            c.info(String.format("Done: %d photo(s) added, %d face(s), %.1f s", photosAdded, facesFound, seconds));
        }
    }

    private final Options options;
    private final FaceModels sharedModels;

    /** Loads the face models itself when there is a photo to analyse, and closes them after. */
    public IngestStep(Options options) {
        this.options = options;
        this.sharedModels = null;
    }

    /** Uses {@code models}, opened once by the caller (the pipeline) and closed by it. */
    public IngestStep(Options options, FaceModels models) {
        this.options = options;
        this.sharedModels = models;
    }

    @Override
    public String name() {
        return "ingest";
    }

    // ------------------------------------------------------------------ plan (reads only)

    /** A file while planning: read and hashed, then (unless a duplicate) analysed. */
    private static final class Draft {
        final UploadFolder job;
        final Path file;
        Action action;
        String hash, photoId, duplicateOf, problem, keptAs;
        PhotoAnalysis.Analysed analysed;

        Draft(UploadFolder job, Path file) {
            this.job = job;
            this.file = file;
        }
    }

    /**
     * The face models are loaded on other threads from the moment the plan knows there are photos
     * to look at, while it reads the archive, hashes the photos and decodes the first ones; the
     * plan closes them, whatever happens (a refused plan leaves no thread or session behind).
     */
    @Override
    public Plan plan(KitContext ctx) throws Exception {
        FaceModels.Loading[] loading = new FaceModels.Loading[1];
        try {
            return plan(ctx, loading);
        } finally {
            if (loading[0] != null) loading[0].close();
        }
    }

    private FaceModels.Loading startLoading(Layout layout) {
        return sharedModels != null ? FaceModels.Loading.loaded(sharedModels) : FaceModels.Loading.loadInBackground(layout.models(), 1);
    }

    private Plan plan(KitContext ctx, FaceModels.Loading[] loading) throws Exception {
        Layout layout = ctx.layout();
        // Named folders: the models can start at once (the ledger, read next, costs a cold JSON parser).
        if (!options.fromLedger() && options.folders().stream().allMatch(f -> Files.isDirectory(f.folder()))) loading[0] = startLoading(layout);
        JobLedger ledger = ctx.ledger();
        List<UploadFolder> folders = new ArrayList<>();
        Map<String, String> missing = new HashMap<>();
        if (options.fromLedger()) {
            for (String job : ledger.jobsAt(JobLedger.Milestone.DOWNLOADED, JobLedger.Milestone.INGESTED)) {
                UploadFolder f = new UploadFolder(job, layout.pending().resolve(job));
                folders.add(f);
                if (!Files.isDirectory(f.folder())) {
                    missing.put(job, "its folder " + f.folder() + " is missing -> download it again (./jbang download)");
                }
            }
            if (!folders.isEmpty()) loading[0] = startLoading(layout);
        }

        // Both archive files and the store are read and checked before anything else (issue 11 item 5),
        // and the store's faces must be of the active model, said before any other problem (ModelCheck).
        PlannedArchive archive = PlannedArchive.read(layout);
        ModelCheck.beforeWork(layout, archive.store, ctx.console(), ModelCheck.OnMismatch.REFUSE);
        if (!options.fromLedger()) {
            for (UploadFolder f : options.folders()) {
                if (!Files.isDirectory(f.folder())) {
                    throw new KitException("the folder to ingest does not exist: " + f.folder(),
                            "check --directory (downloads land in " + layout.pending() + "/<job>)");
                }
                folders.add(f);
            }
        }
        ObjectNode identities = archive.identities;
        ObjectNode index = archive.index;
        EmbeddingStore store = archive.store;

        Map<String, String> known = knownHashes(index, layout.photos());   // content hash -> photo id
        Map<String, String> planned = new HashMap<>();                     // content hash -> photo id, this plan
        List<Draft> drafts = new ArrayList<>();
        for (UploadFolder f : folders) {
            if (missing.containsKey(f.jobId())) continue;
            for (Path file : f.photoFiles()) drafts.add(new Draft(f, file));
        }
        // Every file read and hashed on all cores: this JVM compiles with C1 only, whose SHA-256
        // runs at ~90 MB/s on one core (C2 would use the processor's SHA instructions), so a batch
        // of 250 MB of scans would otherwise wait ~3 s here before the first photo is analysed.
        drafts.parallelStream().forEach(d -> {
            try {
                d.hash = Photos.contentHash(Files.readAllBytes(d.file));
            } catch (IOException e) {
                d.action = Action.REFUSED;
                d.problem = "cannot read " + Names.printable(d.job.relative(d.file)) + ": " + e.getMessage() + " -> check the file's permissions";
            }
        });
        for (Draft d : drafts) {   // in file order: the first of two equal files is the one added
            if (d.action == Action.REFUSED) continue;
            d.photoId = PhotoRegistration.photoIdOf(d.hash);
            String before = known.containsKey(d.hash) ? known.get(d.hash) : planned.get(d.hash);
            if (before != null) {
                d.action = Action.DUPLICATE;
                d.duplicateOf = before;
            } else {
                planned.put(d.hash, d.photoId);
            }
        }

        List<Draft> toAnalyse = drafts.stream().filter(d -> d.action == null).toList();
        String model = sharedModels != null ? sharedModels.embeddingModel : null;
        double analysisSeconds = 0;
        if (!toAnalyse.isEmpty()) {
            ctx.console().section("Step 3: finding faces in " + toAnalyse.size() + " photo(s)");
            List<PhotoAnalysis.Task> tasks = toAnalyse.stream().map(d -> new PhotoAnalysis.Task(d.file, d.job.relative(d.file))).toList();
            PhotoAnalysis.Batch batch = PhotoAnalysis.analyseBatch(tasks, loading[0], sharedModels != null, options.minFace(),
                    options.maxMegapixels(), ctx.console());
            model = batch.embeddingModel();
            analysisSeconds = batch.seconds();
            for (int i = 0; i < batch.outcomes().size(); i++) {
                Draft d = toAnalyse.get(i);
                PhotoAnalysis.Outcome o = batch.outcomes().get(i);
                if (o.problem() != null) {
                    d.action = Action.REFUSED;
                    d.problem = Names.printable(o.problem());
                } else {
                    d.action = Action.ADD;
                    d.analysed = o.analysed();
                }
            }
        }

        // Names in file order, as the photos will be registered.
        Set<String> used = new HashSet<>();
        index.path("photos").forEach(p -> used.add(Names.basename(p.path("path").asText()).toLowerCase(Locale.ROOT)));
        for (Draft d : drafts) {
            if (d.action != Action.ADD) continue;
            try {
                d.keptAs = PhotoRegistration.uniqueName(d.file.getFileName().toString(), d.job.jobId(), d.hash, layout.photos(), used);
                used.add(d.keptAs.toLowerCase(Locale.ROOT));
            } catch (KitException e) {
                d.action = Action.REFUSED;
                d.problem = e.getMessage() + " -> " + e.fix();
            } catch (IOException e) {
                d.action = Action.REFUSED;
                d.problem = "cannot check the name " + Names.printable(d.file.getFileName().toString()) + " in " + layout.photos() + ": " + e.getMessage();
            }
        }

        // Faces an interrupted run registered but never grouped: only those the store holds for the model in use.
        Map<String, List<String>> orphans = new HashMap<>();
        for (UploadFolder f : folders) {
            List<String> ids = InboxIdentities.orphans(f.jobId(), index, identities);
            if (!ids.isEmpty() && model == null) model = ModelCatalog.activeEmbeddingModel(layout.models());
            List<String> usable = new ArrayList<>();
            for (String id : ids) {
                EmbeddingStore.Face face = store.get(id);
                if (face != null && face.model().equals(model)) usable.add(id);
            }
            orphans.put(f.jobId(), usable);
        }
        List<String> warnings = new ArrayList<>();
        PlannedArchive.ForModel forModel = archive.forModel(model, layout);
        if (forModel.otherModels() != null) warnings.add(forModel.otherModels());

        List<JobPlan> jobs = new ArrayList<>();
        for (UploadFolder f : folders) {
            List<PhotoPlan> photos = new ArrayList<>();
            for (Draft d : drafts) {
                if (d.job != f) continue;
                PhotoRegistration.Photo reg = d.action == Action.ADD
                        ? new PhotoRegistration.Photo(d.file, f.jobId(), d.hash, d.keptAs, f.labels(d.file, options.labels()), d.analysed)
                        : null;
                photos.add(new PhotoPlan(f.relative(d.file), d.action, d.photoId, d.keptAs,
                        d.analysed == null ? 0 : d.analysed.faces().size(), d.analysed == null ? 0 : d.analysed.rotation(),
                        d.duplicateOf, d.problem, reg));
            }
            String problem = missing.get(f.jobId());
            boolean ok = problem == null && photos.stream().noneMatch(p -> p.action() == Action.REFUSED);
            jobs.add(new JobPlan(f.jobId(), f.folder().toString(), photos, orphans.getOrDefault(f.jobId(), List.of()), ok,
                    ledger.reached(f.jobId(), JobLedger.Milestone.DOWNLOADED), ledger.reached(f.jobId(), JobLedger.Milestone.INGESTED), problem));
        }
        return new Plan(jobs, model, warnings, analysisSeconds, forModel.archive());
    }

    /** content hash -> photo id for the archive's photos: the recorded hash, else the kept file's. */
    static Map<String, String> knownHashes(ObjectNode index, Path photosDir) {
        Map<String, String> out = new HashMap<>();
        index.path("photos").fields().forEachRemaining(e -> {
            String h = e.getValue().path("content_hash").asText(null);
            if (h == null) {
                Path p = photosDir.resolve(Names.basename(e.getValue().path("path").asText()));
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


    // ------------------------------------------------------------------ apply

    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        long t0 = System.nanoTime();
        Console c = ctx.console();
        List<JobResult> results = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        if (plan.jobs().isEmpty()) return new Result(results, 0, 0, 0, failures);
        Layout layout = ctx.layout();
        try (DataLock lock = DataLock.acquire(layout.data(), "ingest")) {
            if (lock.staleLockReport() != null) c.warn(lock.staleLockReport());
            plan.archive().snapshot.checkUnchanged(layout, "ingest");
            PlannedArchive state = plan.archive();
            ArchiveFiles files = new ArchiveFiles(layout.data());
            PhotoRegistration registration = new PhotoRegistration(layout, state.index, state.store, plan.embeddingModel());
            JobLedger ledger = ctx.ledger();
            int photosAdded = 0, facesFound = 0;
            for (JobPlan job : plan.jobs()) {
                JobResult r = applyJob(job, state, registration, files, ledger, c);
                results.add(r);
                photosAdded += r.photosAdded();
                facesFound += r.facesFound();
                for (FileError e : r.errors()) {
                    failures.add("job " + Names.printable(job.jobId()) + ", " + Names.printable(e.file()) + ": " + e.message());
                }
                CrashPoint.reach("between:ingest-jobs");
            }
            return new Result(results, photosAdded, facesFound, (System.nanoTime() - t0) / 1e9, failures);
        }
    }

    private JobResult applyJob(JobPlan job, PlannedArchive state, PhotoRegistration registration, ArchiveFiles files,
                               JobLedger ledger, Console c) {
        List<AddedPhoto> added = new ArrayList<>();
        List<Duplicate> duplicates = new ArrayList<>();
        List<FileError> errors = new ArrayList<>();
        Set<String> photoIds = new LinkedHashSet<>();
        InboxIdentities.Waiting waiting = new InboxIdentities.Waiting();
        if (job.problem() != null) errors.add(new FileError(job.folder(), job.problem()));
        ObjectNode photosInIndex = (ObjectNode) state.index.get("photos");
        for (PhotoPlan p : job.photos()) {
            String file = Names.printable(p.file());
            switch (p.action()) {
                case REFUSED -> {
                    c.error(file + ": " + p.problem());
                    errors.add(new FileError(p.file(), p.problem()));
                }
                case DUPLICATE -> {
                    if (photosInIndex.has(p.duplicateOf())) {
                        c.info("duplicate, skipped: " + file + " (already photo " + p.duplicateOf() + ", "
                                + Names.printable(photosInIndex.get(p.duplicateOf()).path("path").asText()) + ")");
                        duplicates.add(new Duplicate(p.file(), p.duplicateOf()));
                        photoIds.add(p.duplicateOf());
                    } else {
                        String why = "the same photo as another file of this run, which could not be added (see above) -> fix that one and ingest again";
                        c.error(file + ": " + why);
                        errors.add(new FileError(p.file(), why));
                    }
                }
                case ADD -> {
                    try {
                        List<EmbeddingStore.Face> faces = registration.register(p.registration());
                        CrashPoint.reach("ingest.photo");  // crash tests: a photo fully committed
                        List<AddedFace> out = new ArrayList<>();
                        for (EmbeddingStore.Face f : faces) {
                            double[] b = new double[f.bbox().length];
                            for (int i = 0; i < b.length; i++) b[i] = Math.round(f.bbox()[i] * 10) / 10.0;
                            out.add(new AddedFace(f.faceId(), b, Math.round(f.detScore() * 10000) / 10000.0));
                            waiting.add(f, p.photoId(), p.keptAs());
                        }
                        added.add(new AddedPhoto(p.file(), p.photoId(), p.keptAs(), p.turnedDegrees(), out));
                        photoIds.add(p.photoId());
                        c.ok(file + ": " + faces.size() + " face" + (faces.size() == 1 ? "" : "s")
                                + (p.turnedDegrees() != 0 ? " (found after turning it " + p.turnedDegrees() + " degrees)" : "")
                                + " -> " + Names.printable(p.keptAs()));
                    } catch (KitException e) {
                        String msg = e.getMessage() + (e.fix() != null ? " -> " + e.fix() : "");
                        c.error(file + ": " + msg);
                        errors.add(new FileError(p.file(), msg));
                    } catch (IOException e) {
                        // A write the archive's folders refused: named, and the batch goes on.
                        String msg = "cannot keep " + file + " in the archive: "
                                + (e instanceof AtomicFiles.FolderNotWritable ? "" : e.getClass().getSimpleName() + ": ") + e.getMessage();
                        c.error(file + ": " + msg);
                        errors.add(new FileError(p.file(), msg));
                    }
                }
            }
        }

        for (String id : job.orphanFaceIds()) {
            EmbeddingStore.Face f = state.store.get(id);
            String photoId = state.index.path("face_to_photo").path(id).asText(null);
            if (f != null && photoId != null) waiting.add(f, photoId, photosInIndex.path(photoId).path("path").asText());
        }
        CrashPoint.reach("ingest.before-identities");  // crash tests: photos committed, no identities yet
        List<InboxIdentities.Created> created = List.of();
        if (!waiting.isEmpty()) {
            ObjectNode before = state.identities.deepCopy();
            try {
                created = InboxIdentities.add(state.identities, job.jobId(), waiting, state.groupingThreshold);
                files.writeIdentities(state.identities);
                c.ok(created.size() + " new INBOX identit" + (created.size() == 1 ? "y" : "ies") + " from " + waiting.size()
                        + " new faces (grouping threshold " + state.groupingThreshold + ")");
            } catch (KitException e) {
                state.identities.removeAll();
                state.identities.setAll(before);
                created = List.of();
                String msg = e.getMessage() + (e.fix() != null ? " -> " + e.fix() : "") + "; the next ingest of this job groups its faces";
                c.error(msg);
                errors.add(new FileError(ArchiveFiles.IDENTITIES, msg));
            }
        }

        boolean recorded = false;
        if (errors.isEmpty() && job.uploadJob()) {
            try {
                ledger.setPhotoIds(job.jobId(), photoIds);
                ledger.mark(List.of(job.jobId()), JobLedger.Milestone.INGESTED);
                recorded = true;
            } catch (IOException e) {
                errors.add(new FileError(ledger.file().toString(), "cannot record the job as ingested in " + ledger.file() + ": "
                        + e.getMessage() + "; its photos are in the archive, run the ingest again"));
            }
        }
        int faces = added.stream().mapToInt(a -> a.faces().size()).sum();
        return new JobResult(job.jobId(), added.size(), faces, added, duplicates, errors, created, errors.isEmpty(), recorded,
                List.copyOf(photoIds));
    }
}
