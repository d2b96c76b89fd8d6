import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * Step 4 — matching: proposes, for each face of an unresolved identity (INBOX, PROPOSED,
 * SKIPPED), the confirmed person it is closest to, under the threshold (rules:
 * matching-and-merge.md; {@link Matcher}). Nothing is ever merged or confirmed by the model: the
 * plan's reports — data/proposals.json and the review page data/review/<run>.html — are what a
 * person reviews, and they are written in dry runs too. {@code apply} (manual use only, the
 * script's --execute) applies ALL the proposals and promotions in one atomic write of
 * identities.json, after a backup. The pipeline only plans and writes the reports.
 */
public final class ClusterStep implements Step<ClusterStep.Plan, ClusterStep.Result> {

    /**
     * @param threshold propose when distance < threshold; empty = the embedding model's calibrated HIGH
     * @param limit     keep only the closest N proposals; empty = all
     */
    public record Options(OptionalDouble threshold, OptionalInt limit) {
        public Options {
            if (threshold == null || limit == null) throw new IllegalArgumentException("use OptionalDouble.empty() / OptionalInt.empty()");
            if (threshold.isPresent() && !(threshold.getAsDouble() > 0 && threshold.getAsDouble() <= 2)) {
                throw new IllegalArgumentException("threshold must be a distance in (0, 2], not " + threshold.getAsDouble());
            }
            if (limit.isPresent() && limit.getAsInt() < 1) throw new IllegalArgumentException("limit must be 1 or more");
        }

        public static Options defaults() {
            return new Options(OptionalDouble.empty(), OptionalInt.empty());
        }
    }

    /** What was read for the plan: apply and the reports work on exactly this. */
    static final class Read {
        final ObjectNode identities;
        final ObjectNode photoIndex;
        final Map<String, String> faceToPhoto;
        final EmbeddingStore store;
        final MatchThresholds thresholds;

        Read(ObjectNode identities, ObjectNode photoIndex, Map<String, String> faceToPhoto, EmbeddingStore store, MatchThresholds thresholds) {
            this.identities = identities;
            this.photoIndex = photoIndex;
            this.faceToPhoto = faceToPhoto;
            this.store = store;
            this.thresholds = thresholds;
        }
    }

    /**
     * The proposals (closest first, after --limit), the promotions of SKIPPED identities they
     * imply, and where the reports go. {@code archive} is null when there is no archive yet.
     *
     * @param totalProposals proposals before --limit
     * @param byLabel        proposals per confidence label
     * @param reviewPage     where {@code writeReports} writes the review page (data/review/<run>.html)
     */
    public record Plan(String model, double threshold, boolean calibratedThreshold, int confirmedIdentities, int confirmedFaces,
                       int unresolvedIdentities, int unresolvedFaces, List<String> facesWithoutEmbedding,
                       List<Matcher.Proposal> proposals, int totalProposals, Map<String, Integer> byLabel,
                       List<Matcher.Promotion> promotions, List<String> warnings, String generatedAt,
                       Path proposalsFile, Path reviewPage, Read archive, java.util.concurrent.Future<String> proposalsJson,
                       java.util.concurrent.Future<String> pageHtml) implements Step.Plan {

        @Override
        public boolean nothingToDo() {
            return proposals.isEmpty();
        }

        public int ambiguous() {
            return (int) proposals.stream().filter(Matcher.Proposal::ambiguous).count();
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = JsonFiles.object();
            o.put("model", model);
            o.set("threshold", Matcher.pythonFloat(threshold));
            o.put("threshold_from", calibratedThreshold ? "calibrated HIGH" : "--threshold");
            o.put("confirmed_identities", confirmedIdentities);
            o.put("confirmed_faces", confirmedFaces);
            o.put("unresolved_identities", unresolvedIdentities);
            o.put("unresolved_faces", unresolvedFaces);
            o.put("faces_without_embedding", facesWithoutEmbedding.size());
            o.put("proposal_count", proposals.size());
            o.put("total_proposals", totalProposals);
            o.put("ambiguous", ambiguous());
            o.set("by_label", JsonFiles.MAPPER.valueToTree(byLabel));
            ArrayNode list = o.putArray("proposals");
            for (Matcher.Proposal p : proposals) list.add(p.toJson());
            ArrayNode promos = o.putArray("promotions");
            for (Matcher.Promotion p : promotions) {
                promos.addObject().put("identity_id", p.identityId()).put("name", p.identityName()).put("promotion_context", p.context());
            }
            o.set("warnings", JsonFiles.MAPPER.valueToTree(warnings));
            o.put("proposals_file", proposalsFile == null ? null : proposalsFile.toString());
            o.put("review_page", reviewPage == null ? null : reviewPage.toString());
            return o;
        }

        @Override
        public void print(Console c) {
            c.section("Step 4: match new faces to identified people");
            if (archive == null) {
                c.info("No archive yet (no identities.json): nothing to match.");
                return;
            }
            for (String w : warnings) c.warn(w);
            c.info("Embedding model: " + (model == null ? "none (no faces with embeddings)" : model)
                    + "   threshold " + ReviewPage.fmt(threshold, 2) + (calibratedThreshold ? " (calibrated HIGH)" : " (--threshold)"));
            c.info(confirmedIdentities + " confirmed people (" + confirmedFaces + " faces), "
                    + unresolvedFaces + " faces of " + unresolvedIdentities + " unresolved identities");
            if (!facesWithoutEmbedding.isEmpty()) {
                c.warn(facesWithoutEmbedding.size() + " unresolved faces have no embedding and were skipped"
                        + " (e.g. " + Names.printable(facesWithoutEmbedding.get(0)) + "); re-run the ingest or ./jbang reembed");
            }
            printTable(c);
            if (proposals.size() < totalProposals) {
                c.info("(only the " + proposals.size() + " closest of " + totalProposals + " proposals: --limit " + proposals.size() + ")");
            }
            if (!promotions.isEmpty()) {
                c.info("");
                c.info("SKIPPED identities with a strong match (promoted only with --execute, when not merged away):");
                for (Matcher.Promotion p : promotions) c.info("  " + p.identityName() + ": " + p.context());
            }
        }

        /** The table the archive's maintainers know: face → person, distance, label, ambiguity; then per source identity. */
        private void printTable(Console c) {
            // One block, one write: at archive scale thousands of lines, each a flushed write of its own otherwise.
            StringBuilder out = new StringBuilder(256 * (proposals.size() + 8));
            table(out);
            c.info(out.toString());
        }

        private void table(StringBuilder out) {
            out.append('\n');
            if (proposals.isEmpty()) {
                out.append("No proposals: no unresolved face is close enough to a confirmed person.");
                return;
            }
            JsonNode ids = archive.identities.path("identities");
            out.append(proposals.size()).append(" proposals (closest first):\n");
            out.append("  ").append(pad("FACE", 26)).append(' ').append(pad("FROM", 36)).append("    ").append(pad("PERSON", 26)).append(' ')
                    .append(padLeft("DISTANCE", 8)).append("  ").append(pad("CONFIDENCE", 10)).append(" NOTE\n");
            for (Matcher.Proposal p : proposals) {
                String note = p.ambiguous() ? "AMBIGUOUS (margin " + ReviewPage.fmt(p.margin(), 3) + ", next: "
                        + ids.path(p.secondIdentityId()).path("name").asText("?") + ")" : "";
                String line = "  " + pad(cut(p.faceId(), 26), 26) + " " + pad(cut(p.sourceIdentityName() + " (" + p.sourceState() + ")", 36), 36)
                        + " -> " + pad(cut(p.targetIdentityName(), 26), 26) + " " + padLeft(fourPlaces(p.distance()), 8) + "  "
                        + pad(p.confidence(), 10) + " " + note;
                out.append(line.stripTrailing()).append('\n');
            }
            Map<String, List<Matcher.Proposal>> bySource = new LinkedHashMap<>();
            for (Matcher.Proposal p : proposals) bySource.computeIfAbsent(p.sourceIdentityId(), k -> new ArrayList<>()).add(p);
            out.append('\n').append("By source identity (").append(bySource.size()).append("):");
            for (List<Matcher.Proposal> ps : bySource.values()) {
                Map<String, Integer> targets = new LinkedHashMap<>();
                for (Matcher.Proposal p : ps) targets.merge(p.targetIdentityName(), 1, Integer::sum);
                StringBuilder t = new StringBuilder();
                targets.forEach((name, n) -> t.append(t.length() > 0 ? ", " : "").append(name).append(n > 1 ? " ×" + n : ""));
                Matcher.Proposal first = ps.get(0);
                out.append('\n').append("  ").append(pad(first.sourceIdentityName() + " (" + first.sourceState() + ")", 36)).append(' ')
                        .append(ps.size()).append(" face").append(ps.size() == 1 ? "" : "s").append(" -> ").append(t);
            }
        }

        /** %-Ns of String.format, without its cost (its first use costs a cold process 10-15 ms). */
        private static String pad(String s, int n) {
            return s.length() >= n ? s : s + " ".repeat(n - s.length());
        }

        /** As %.4f prints it: the shortest decimal of the double, rounded half up. */
        private static String fourPlaces(double d) {
            return new java.math.BigDecimal(Double.toString(d)).setScale(4, java.math.RoundingMode.HALF_UP).toPlainString();
        }

        private static String padLeft(String s, int n) {
            return s.length() >= n ? s : " ".repeat(n - s.length()) + s;
        }
    }

    /** What --execute did. {@code backup} is the label of the backup made first (null when nothing was applied). */
    public record Result(int applied, int promoted, String backup, Path reviewPage, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (backup != null) c.ok("backed up identities.json first (./jbang restore --timestamp " + backup + " undoes this)");
            c.ok("applied " + applied + " proposal(s) to identities.json" + (promoted > 0 ? "; promoted " + promoted + " skipped identities" : ""));
        }
    }

    private final Options options;

    public ClusterStep(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "cluster";
    }

    @Override
    public String howToApply() {
        return "review the page named above; ./jbang cluster --execute applies ALL the proposals (scripting only)";
    }

    @Override
    public Plan plan(KitContext ctx) throws Exception {
        Layout layout = ctx.layout();
        String now = Timestamps.archive();
        ArchiveFiles files = new ArchiveFiles(layout.data());
        if (files.isEmptyArchive()) {
            return new Plan(null, options.threshold().orElse(0), options.threshold().isEmpty(), 0, 0, 0, 0, List.of(), List.of(), 0,
                    Map.of(), List.of(), List.of(), now, null, null, null, null, null);
        }
        // ONNX Runtime (the matrix products) loads meanwhile too: a few tenths of a second, needed only at the end.
        java.util.concurrent.CompletableFuture<DistanceTerms.Engine> engine = DistanceTerms.loadInBackground();
        // The three parts of the reading side by side (ArchiveRead). A legacy-only archive gets its converted
        // copy there (derived data, like the reports): the next run loads segments.
        ArchiveRead archiveRead = ArchiveRead.of(files, () -> EmbeddingStore.open(layout.data(), EmbeddingStore.Conversion.CONVERT));
        ObjectNode identities = archiveRead.identities(), photoIndex = archiveRead.photoIndex();
        EmbeddingStore store = archiveRead.store();
        // Each face's photo, which matching and the review page both look up.
        Map<String, String> faceToPhoto = Identities.faceToPhoto(photoIndex);
        Matcher.Faces faces = Matcher.gather(identities, faceToPhoto, store);
        String model = faces.model();
        MatchThresholds t = MatchThresholds.forModel(model == null ? EmbeddingStore.LEGACY_MODEL : model, layout.models());
        List<String> warnings = new ArrayList<>();
        if (model != null && !t.calibrated) warnings.add("no calibrated thresholds for " + model + " in "
                + layout.models().resolve(MatchThresholds.MODELS_JSON) + ": using the archive's w600k_r50 values; labels may mislead");
        // ModelCheck's one rule, on the store read here (the script does not read it a second time first).
        ModelCheck.Verdict verdict = ModelCheck.of(layout, store);
        if (verdict.mismatch()) warnings.add(verdict.problem() + "\n  -> " + verdict.fix());
        double threshold = options.threshold().orElse(t.high);
        Matcher.Result found;
        try {
            found = Matcher.findMatches(faces, t, threshold, engine);
        } finally {
            DistanceTerms.await(engine).close();
        }
        List<Matcher.Proposal> proposals = found.proposals();
        if (options.limit().isPresent() && proposals.size() > options.limit().getAsInt()) {
            proposals = proposals.subList(0, options.limit().getAsInt());
        }
        proposals = List.copyOf(proposals);
        List<Matcher.Promotion> promotions = Matcher.promotions(identities, proposals);
        Map<String, Integer> byLabel = new TreeMap<>();
        for (Matcher.Proposal p : proposals) byLabel.merge(p.confidence(), 1, Integer::sum);
        Path reviewPage = layout.review().resolve(runName(layout.review()) + ".html");
        Read read = new Read(identities, photoIndex, faceToPhoto, store, t);
        // The reports' texts are made on threads of their own while the table prints (reading only: the
        // plan's proposals and documents, and the crops); writeReports writes them.
        List<Matcher.Proposal> listed = proposals;
        java.util.concurrent.FutureTask<String> proposalsJson = BackgroundWork.start("proposals-json", () -> JsonFiles.pretty(proposalsDocument(now, threshold, listed)));
        ReviewPage.Input page = pageInput(reviewPage, now, false, 0, model, threshold, proposals, promotions, read, ctx);
        java.util.concurrent.FutureTask<String> pageHtml = BackgroundWork.start("review-page", () -> ReviewPage.html(page));
        return new Plan(model, threshold, options.threshold().isEmpty(), found.confirmedIdentities(), found.confirmedFaces(),
                found.unresolvedIdentities(), found.unresolvedFaces(), found.facesWithoutEmbedding(), proposals,
                found.proposals().size(), byLabel, promotions, warnings, now, layout.data().resolve("proposals.json"),
                reviewPage, read, proposalsJson, pageHtml);
    }

    /** data/proposals.json and the review page: the only files a dry run writes. */
    @Override
    public void writeReports(Plan plan, KitContext ctx) throws Exception {
        if (plan.archive() == null) return;
        try {
            AtomicFiles.write(plan.proposalsFile(), BackgroundWork.result(plan.proposalsJson()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new KitException("cannot write " + plan.proposalsFile() + ": " + e.getMessage(),
                    "check the free disk space and permissions; the previous proposals.json is unchanged", e);
        }
        ReviewPage.write(plan.reviewPage(), BackgroundWork.result(plan.pageHtml()));
        Console c = ctx.console();
        c.info("");
        c.ok("wrote " + plan.proposalsFile() + " (" + plan.proposals().size() + " proposals)");
        c.ok("review page: " + plan.reviewPage());
        if (ctx.dryRun()) {
            c.info("Nothing has been applied. Open the review page and decide each proposal on the site"
                    + " (./jbang review will be the normal way to decide them here).");
        }
    }

    /** data/proposals.json (data-files.md): when, the threshold, and the proposals, closest first. */
    private static ObjectNode proposalsDocument(String generatedAt, double threshold, List<Matcher.Proposal> proposals) {
        ObjectNode doc = JsonFiles.object();
        doc.put("generated_at", generatedAt);
        doc.set("threshold", Matcher.pythonFloat(threshold));
        ArrayNode list = doc.putArray("proposals");
        for (Matcher.Proposal p : proposals) list.add(p.toJson());
        return doc;
    }

    private static ReviewPage.Input pageInput(Path reviewPage, String generatedAt, boolean executed, int applied, String model,
                                              double threshold, List<Matcher.Proposal> proposals, List<Matcher.Promotion> promotions,
                                              Read a, KitContext ctx) {
        return new ReviewPage.Input(runOf(reviewPage), generatedAt, executed, applied, model, threshold, a.thresholds, proposals,
                promotions, a.identities, a.photoIndex, a.faceToPhoto, a.store, ctx.layout().photos(), ctx.layout().crops(),
                ctx.layout().thumbnails());
    }

    /** Applies ALL the plan's proposals and promotions: backup first, then one atomic write of identities.json. */
    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        if (plan.archive() == null || plan.proposals().isEmpty()) return new Result(0, 0, null, plan.reviewPage(), List.of());
        Path data = ctx.layout().data();
        try (DataLock lock = DataLock.acquire(data, "cluster")) {
            if (lock.staleLockReport() != null) ctx.console().warn(lock.staleLockReport());
            ArchiveFiles files = new ArchiveFiles(data);
            ObjectNode identities = files.readIdentities();
            if (!JsonFiles.sameContent(identities, plan.archive().identities)) {
                throw new KitException(files.identitiesFile() + " changed since the proposals were made",
                        "nothing was applied; run ./jbang cluster again to propose against the current archive");
            }
            Backups.Backup backup = new Backups(data).create();
            String now = Timestamps.archive();
            int applied = IdentityEdits.applyProposals(identities, plan.proposals(), now);
            int promoted = IdentityEdits.applyPromotions(identities, plan.promotions(), now);
            files.writeIdentities(identities);
            ReviewPage.write(plan.reviewPage(), ReviewPage.html(pageInput(plan.reviewPage(), plan.generatedAt(), true, applied,
                    plan.model(), plan.threshold(), plan.proposals(), plan.promotions(), plan.archive(), ctx)));
            return new Result(applied, promoted, backup == null ? null : backup.label(), plan.reviewPage(), List.of());
        }
    }

    /** A new run name for the review page: YYYYMMDD-HHMMSS, suffixed if that page exists already. */
    static String runName(Path reviewDir) {
        String base = Timestamps.label();
        String name = base;
        for (int i = 2; Files.exists(reviewDir.resolve(name + ".html")); i++) name = base + "-" + i;
        return name;
    }

    private static String runOf(Path page) {
        String n = page.getFileName().toString();
        return n.endsWith(".html") ? n.substring(0, n.length() - 5) : n;
    }

    static String cut(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }
}
