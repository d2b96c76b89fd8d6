///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java
//SOURCES ../lib/NpyPickleReader.java ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/MatchThresholds.java ../lib/Matcher.java
//SOURCES ../lib/Photos.java ../lib/ReviewPage.java

/*
 * Step 4 — match new faces to the people already identified, for a person to review.
 * Every face of an INBOX, PROPOSED or SKIPPED identity is compared with every CONFIRMED
 * person (distance = the closest of that person's faces); the closest person under the
 * threshold becomes a proposal. Rules: shared/spec/matching-and-merge.md.
 *
 * The default is a dry run: it writes data/proposals.json and the review page
 * data/review/<run>.html (open it in a browser: faces, photos, distances), prints the table,
 * and changes nothing else. Nothing is ever confirmed: --execute (manual use only) backs up
 * the archive, then adds each proposed face to its person's candidates and marks emptied
 * identities as merged into that person; it also writes the promotions of SKIPPED identities
 * that keep a strong match.
 *
 * Options:  --data-dir DIR     the archive folder (default: data)
 *           --threshold T      propose when distance < T (default: the embedding model's HIGH
 *                              threshold from models/models.json; 1.05 for w600k_r50)
 *           --dry-run          propose only (the default)
 *           --execute          apply the proposals to identities.json (after a backup)
 *           --limit N          keep only the N closest proposals
 *           --photos-dir DIR, --crops-dir DIR, --models-dir DIR   where photos, crops, models.json are
 *           --json             print one JSON summary on stdout
 * Example:  ./jbang cluster                (dry run, then open the page it names)
 *           ./jbang cluster --threshold 1.15 --limit 20
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public class cluster_new_faces {
    static final String USAGE = "./jbang steps/cluster_new_faces.java [--data-dir D] [--threshold T] [--dry-run | --execute] [--limit N] [--json]";
    static final String ABOUT = """
            Step 4: match the faces of unresolved identities (INBOX, PROPOSED, SKIPPED) to confirmed
            people. Writes data/proposals.json and a review page data/review/<run>.html; a dry run
            (the default) changes nothing else. --execute adds the faces to the people's candidates
            (never confirms), after a backup.

            Example: ./jbang cluster --threshold 1.05""";

    /** The step's options, already parsed: the pipeline builds one directly. */
    public record Options(Path dataDir, Path modelsDir, Path photosDir, Path cropsDir, Double threshold,
                          boolean execute, Integer limit) {
        public static Options defaults(KitConfig config) {
            return new Options(config.dataDir(null), config.modelsDir(null), config.photosDir(null), config.cropsDir(null),
                    null, false, null);
        }
    }

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--data-dir", "DIR", "the archive folder (default: data)")
                    .option("--threshold", "T", "propose when distance < T (default: the model's calibrated HIGH threshold)")
                    .flag("--dry-run", "only propose: write proposals.json and the review page (the default)")
                    .flag("--execute", "apply the proposals to identities.json, after a backup (manual use only)")
                    .option("--limit", "N", "keep only the N closest proposals")
                    .option("--photos-dir", "DIR", "where the archive's photos are (default: raw_photos)")
                    .option("--crops-dir", "DIR", "where the face crops are (default: raw_photos/crops)")
                    .option("--models-dir", "DIR", "where models.json is (default: models)")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            args.atMostOneOf("--dry-run", "--execute");
            Double threshold = args.has("--threshold") ? args.getDouble("--threshold", 0) : null;
            if (threshold != null && !(threshold > 0 && threshold <= 2)) {
                throw new Args.Usage("--threshold must be a distance between 0 and 2 (got " + args.get("--threshold") + ")");
            }
            Integer limit = args.has("--limit") ? args.getInt("--limit", 0) : null;
            if (limit != null && limit < 1) throw new Args.Usage("--limit must be 1 or more");
            KitConfig config = KitConfig.load();
            Options o = new Options(config.dataDir(args.get("--data-dir")), config.modelsDir(args.get("--models-dir")),
                    config.photosDir(args.get("--photos-dir")), config.cropsDir(args.get("--crops-dir")),
                    threshold, args.has("--execute"), limit);
            Console console = Console.standard(args.has("--json"));
            ObjectNode summary = run(o, console);
            console.emitJson(summary);
            return StepMain.OK;
        });
    }

    /** Runs step 4 once; the pipeline calls this directly (always as a dry run: a person reviews). */
    public static ObjectNode run(Options o, Console console) throws Exception {
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "cluster_new_faces");
        summary.put("mode", o.execute() ? "execute" : "dry-run");
        if (new ArchiveFiles(o.dataDir()).isEmptyArchive()) {
            console.info("No archive in " + o.dataDir() + " yet (no identities.json): nothing to match.");
            summary.put("proposals", 0);
            summary.put("applied", 0);
            return summary;
        }
        try (DataLock lock = DataLock.acquire(o.dataDir(), "cluster_new_faces")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            ArchiveFiles files = new ArchiveFiles(o.dataDir());
            ObjectNode identities = files.readIdentities();
            ObjectNode photoIndex = files.readPhotoIndex();
            EmbeddingStore store = EmbeddingStore.open(o.dataDir());

            // Plan: which model's thresholds, then the proposals.
            String model = Matcher.modelOf(identities, store);
            MatchThresholds t = MatchThresholds.forModel(model == null ? EmbeddingStore.LEGACY_MODEL : model, o.modelsDir());
            if (model != null && !t.calibrated) console.warn("no calibrated thresholds for " + model + " in "
                    + o.modelsDir().resolve(MatchThresholds.MODELS_JSON) + ": using the archive's w600k_r50 values; labels may mislead");
            String active = MatchThresholds.activeEmbeddingModel(o.modelsDir());
            if (model != null && active != null && !active.equals(model)) {
                console.warn("the archive's faces come from " + model + " but the active recognizer makes " + active
                        + " vectors: the next ingest cannot be matched until the archive is re-embedded (./jbang steps/reembed.java)");
            }
            double threshold = o.threshold() != null ? o.threshold() : t.high;
            Matcher.Result result = Matcher.findMatches(identities, photoIndex, store, t, threshold);
            List<Matcher.Proposal> proposals = result.proposals();
            if (o.limit() != null && proposals.size() > o.limit()) proposals = proposals.subList(0, o.limit());
            List<Matcher.Promotion> promotions = Matcher.promotions(identities, proposals);
            String now = now();
            String runName = runName(o.dataDir());

            console.section("Step 4: match new faces to identified people" + (o.execute() ? " (EXECUTE)" : " (dry run)"));
            console.info("Embedding model: " + (model == null ? "none (no faces with embeddings)" : model)
                    + "   threshold " + ReviewPage.fmt(threshold, 2) + (o.threshold() == null ? " (calibrated HIGH)" : " (--threshold)"));
            console.info(result.confirmedIdentities() + " confirmed people (" + result.confirmedFaces() + " faces), "
                    + result.unresolvedFaces() + " faces of " + result.unresolvedIdentities() + " unresolved identities");
            if (!result.facesWithoutEmbedding().isEmpty()) {
                console.warn(result.facesWithoutEmbedding().size() + " unresolved faces have no embedding and were skipped"
                        + " (e.g. " + result.facesWithoutEmbedding().get(0) + "); re-run the ingest or ./jbang steps/reembed.java");
            }
            printTable(console, proposals, identities);
            if (proposals.size() < result.proposals().size()) {
                console.info("(only the " + proposals.size() + " closest of " + result.proposals().size() + " proposals: --limit " + o.limit() + ")");
            }
            printPromotions(console, promotions, o.execute());

            ObjectNode proposalsDoc = JsonFiles.object();
            proposalsDoc.put("generated_at", now);
            proposalsDoc.set("threshold", Matcher.pythonFloat(threshold));
            ArrayNode list = proposalsDoc.putArray("proposals");
            for (Matcher.Proposal p : proposals) list.add(p.toJson());
            Path proposalsFile = o.dataDir().resolve("proposals.json");
            write(proposalsFile, proposalsDoc);

            // Act: only with --execute, on exactly the proposals shown above.
            int applied = 0, promoted = 0;
            String backupLabel = null;
            ObjectNode before = identities.deepCopy();
            if (o.execute() && !proposals.isEmpty()) {
                Backups.Backup b = new Backups(o.dataDir()).create();
                backupLabel = b == null ? null : b.label();
                applied = Matcher.applyProposals(identities, proposals, now);
                promoted = Matcher.applyPromotions(identities, promotions, now);
                write(files.identitiesFile(), identities);
            }

            Path page = ReviewPage.write(o.dataDir(), new ReviewPage.Input(runName, now, o.execute(), applied, model, threshold, t,
                    proposals, promotions, before, photoIndex, store, o.photosDir(), o.cropsDir()));

            console.info("");
            console.ok("wrote " + proposalsFile + " (" + proposals.size() + " proposals)");
            console.ok("review page: " + page);
            if (o.execute()) {
                if (backupLabel != null) console.ok("backed up identities.json first (./jbang restore --timestamp " + backupLabel + " undoes this)");
                console.ok("applied " + applied + " of " + proposals.size() + " proposals to identities.json"
                        + (promoted > 0 ? "; promoted " + promoted + " skipped identities" : ""));
            } else {
                console.info("Nothing has been applied. Review the page above; apply with --execute only if every proposal is right.");
            }

            summary.put("model", model);
            summary.set("threshold", Matcher.pythonFloat(threshold));
            summary.put("confirmed_identities", result.confirmedIdentities());
            summary.put("unresolved_faces", result.unresolvedFaces());
            summary.put("faces_without_embedding", result.facesWithoutEmbedding().size());
            summary.put("proposals", proposals.size());
            summary.put("ambiguous", (int) proposals.stream().filter(Matcher.Proposal::ambiguous).count());
            ArrayNode promos = summary.putArray("promotions");
            for (Matcher.Promotion p : promotions) {
                ObjectNode n = promos.addObject();
                n.put("identity_id", p.identityId());
                n.put("name", p.identityName());
                n.put("promotion_context", p.context());
            }
            summary.put("applied", applied);
            summary.put("promoted", promoted);
            summary.put("backup", backupLabel);
            summary.put("proposals_file", proposalsFile.toString());
            summary.put("review_page", page.toString());
            return summary;
        }
    }

    /** An atomic write; a failure names the file (the old copy is intact: writes are atomic). */
    static void write(Path file, JsonNode doc) {
        try {
            JsonFiles.write(file, doc);
        } catch (java.io.IOException e) {
            throw new KitException("cannot write " + file + ": " + e.getMessage(),
                    "check the free disk space and permissions; the previous " + file.getFileName() + " is unchanged", e);
        }
    }

    /** The table the archive's maintainers know: face → person, distance, label, ambiguity; then per source identity. */
    static void printTable(Console console, List<Matcher.Proposal> proposals, ObjectNode identities) {
        console.info("");
        if (proposals.isEmpty()) {
            console.info("No proposals: no unresolved face is close enough to a confirmed person.");
            return;
        }
        console.info(proposals.size() + " proposals (closest first):");
        console.info(String.format(Locale.ROOT, "  %-26s %-36s    %-26s %8s  %-10s %s", "FACE", "FROM", "PERSON", "DISTANCE", "CONFIDENCE", "NOTE"));
        for (Matcher.Proposal p : proposals) {
            String note = p.ambiguous() ? "AMBIGUOUS (margin " + ReviewPage.fmt(p.margin(), 3) + ", next: "
                    + identities.path("identities").path(p.secondIdentityId()).path("name").asText("?") + ")" : "";
            console.info(String.format(Locale.ROOT, "  %-26s %-36s -> %-26s %8.4f  %-10s %s", cut(p.faceId(), 26),
                    cut(p.sourceIdentityName() + " (" + p.sourceState() + ")", 36), cut(p.targetIdentityName(), 26),
                    p.distance(), p.confidence(), note).stripTrailing());
        }
        // By source identity, in order of first appearance.
        Map<String, List<Matcher.Proposal>> bySource = new LinkedHashMap<>();
        for (Matcher.Proposal p : proposals) bySource.computeIfAbsent(p.sourceIdentityId(), k -> new ArrayList<>()).add(p);
        console.info("");
        console.info("By source identity (" + bySource.size() + "):");
        for (List<Matcher.Proposal> ps : bySource.values()) {
            Map<String, Integer> targets = new LinkedHashMap<>();
            for (Matcher.Proposal p : ps) targets.merge(p.targetIdentityName(), 1, Integer::sum);
            StringBuilder t = new StringBuilder();
            targets.forEach((name, n) -> t.append(t.length() > 0 ? ", " : "").append(name).append(n > 1 ? " ×" + n : ""));
            Matcher.Proposal first = ps.get(0);
            console.info(String.format(Locale.ROOT, "  %-36s %d face%s -> %s", first.sourceIdentityName() + " (" + first.sourceState() + ")",
                    ps.size(), ps.size() == 1 ? "" : "s", t));
        }
    }

    static void printPromotions(Console console, List<Matcher.Promotion> promotions, boolean execute) {
        if (promotions.isEmpty()) return;
        console.info("");
        console.info("SKIPPED identities with a strong match" + (execute ? "" : " (promoted only with --execute, when not merged away)") + ":");
        for (Matcher.Promotion p : promotions) console.info("  " + p.identityName() + ": " + p.context());
    }

    static String cut(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    /** ISO-8601 with microseconds and offset, as the archive's other timestamps. */
    static String now() {
        return OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"));
    }

    /** A new run name for the review page: YYYYMMDD-HHMMSS, suffixed if that page exists already. */
    static String runName(Path dataDir) {
        String base = OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        String name = base;
        for (int i = 2; Files.exists(dataDir.resolve("review").resolve(name + ".html")); i++) name = base + "-" + i;
        return name;
    }
}
