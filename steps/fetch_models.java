///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Layout.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/ModelCatalog.java ../lib/NpmPackage.java

/*
 * fetch_models — installs the face models into models/ and writes models/models.json.
 *
 * The default models come from the npm package faceplugin-face-recognition-js@0.0.1: the
 * tarball is fetched with `npm pack` (so npm's own configuration decides where from), its
 * sha256 must equal the pinned one, and only the three needed files are extracted, each
 * checked against its own pinned hash. Nothing is fetched when the files are already there
 * and intact, so running it again is harmless.
 *
 * A maintainer may also copy InsightFace files into models/ (det_10g.onnx or det_500m.onnx,
 * w600k_r50.onnx or w600k_mbf.onnx): they are registered, and --detector / --recognizer
 * select them. The archive's old embeddings come from w600k_r50; faces embedded by another
 * model cannot be compared with them (see ./jbang reembed).
 *
 * Options:  --models-dir DIR      where the models live (default: models)
 *           --detector NAME       make NAME the active detector (fr_detect, det_10g, det_500m)
 *           --recognizer NAME     make NAME the active recognizer (fr_feature, w600k_r50, w600k_mbf)
 *           --force               fetch and extract the default models again even if intact
 *           --json                print a JSON summary on stdout
 * Example:  ./jbang fetch-models
 *           ./jbang fetch-models --detector det_10g --recognizer w600k_r50
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "fetch-models", mixinStandardHelpOptions = true,
        description = {"Installs the face models into models/ (default: npm faceplugin-face-recognition-js@0.0.1, checked",
                "against pinned hashes) and writes models/models.json. Registers InsightFace files found in models/",
                "(det_10g.onnx, det_500m.onnx, w600k_r50.onnx, w600k_mbf.onnx); --detector/--recognizer select them.", "",
                "Example: ./jbang fetch-models",
                "         ./jbang fetch-models --detector det_10g --recognizer w600k_r50"})
public class fetch_models implements Callable<Integer> {
    @Option(names = "--models-dir", paramLabel = "DIR", description = "where the models live (default: models)")
    Path modelsDir;

    @Option(names = "--detector", paramLabel = "NAME", description = "the active detector: fr_detect (default), det_10g, det_500m")
    String detector;

    @Option(names = "--recognizer", paramLabel = "NAME", description = "the active recognizer: fr_feature (default), w600k_r50, w600k_mbf")
    String recognizer;

    @Option(names = "--force", description = "fetch and extract the default models again even if they are intact")
    boolean force;

    @Option(names = "--json", description = "print one JSON object on stdout; messages go to stderr")
    boolean json;

    public static void main(String... argv) {
        StepMain.exit(new fetch_models(), argv);
    }

    @Override
    public Integer call() throws Exception {
        Console console = Console.standard(json);
        Path dir = (modelsDir != null ? modelsDir.toAbsolutePath().normalize() : Layout.standard(KitConfig.load().root()).models());
        ObjectNode summary = run(dir, detector, recognizer, force, console);
        console.emitJson(summary);
        return StepMain.OK;
    }

    /** Installs/verifies the models in {@code modelsDir} and writes models.json; null selections keep the current ones. */
    public static ObjectNode run(Path modelsDir, String detector, String recognizer, boolean force, Console console) throws Exception {
        Files.createDirectories(modelsDir);
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "fetch_models");
        summary.put("models_dir", modelsDir.toString());

        // Plan: which default files are missing or damaged.
        List<ModelCatalog.Known> toFetch = new ArrayList<>();
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) {
            Path f = modelsDir.resolve(k.file());
            if (force || !Files.isRegularFile(f) || !k.sha256().equals(ModelCatalog.sha256(f))) toFetch.add(k);
        }
        if (toFetch.isEmpty()) {
            console.ok("default models present and intact (" + ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION + ")");
        } else {
            console.info("Fetching " + ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION + " with npm pack ...");
            fetchFromNpm(modelsDir, toFetch, console);
        }
        summary.set("fetched", ModelCatalog.names(toFetch));

        // models.json: what is installed, keeping a maintainer's extra entries and choices.
        ObjectNode previous = readPrevious(modelsDir, console);
        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        ObjectNode active = doc.putObject("active");
        ObjectNode models = doc.putObject("models");
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) models.set(k.name(), ModelCatalog.entry(k, k.sha256()));
        for (ModelCatalog.Known k : ModelCatalog.INSIGHTFACE) {
            Path f = modelsDir.resolve(k.file());
            if (Files.isRegularFile(f)) {
                models.set(k.name(), ModelCatalog.entry(k, ModelCatalog.sha256(f)));
                console.ok("found " + k.file() + " (" + k.family() + " " + k.role() + ", " + k.licence() + ")");
            }
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
        String det = choose("detector", detector, previous, models, "fr_detect", modelsDir);
        String rec = choose("recognizer", recognizer, previous, models, "fr_feature", modelsDir);
        active.put("detector", det);
        // SCRFD gives the five alignment points itself; the 68-point model is for UltraFace.
        if (ModelCatalog.FAMILY_SCRFD.equals(models.path(det).path("family").asText())) active.putNull("landmarks");
        else active.put("landmarks", "fr_landmark");
        active.put("recognizer", rec);

        // Thresholds measured by ./jbang calibrate --write on the archive's own people survive a re-fetch.
        doc.set("thresholds", ModelCatalog.thresholdsNode(previous == null ? null : previous.get("thresholds")));

        Path file = ModelCatalog.file(modelsDir);
        // Compared as text: numbers read back from disk are decimals, the fresh ones doubles.
        boolean changed = previous == null || !JsonFiles.pretty(previous).equals(JsonFiles.pretty(doc));
        if (changed) {
            JsonFiles.write(file, doc);
            console.ok("wrote " + file);
        } else {
            console.ok(file + " is up to date");
        }
        console.info("Active: detector " + det + ", landmarks " + active.path("landmarks").asText("(from the detector)")
                + ", recognizer " + rec + " (embeddings tagged " + models.path(rec).path("embedding_model").asText() + ")");
        if (!ModelCatalog.FAMILY_ARCFACE.equals(models.path(rec).path("family").asText())) {
            console.warn("the recognizer " + rec + " is not an ArcFace-style model; the kit may not read its output right");
        }
        summary.put("models_json", file.toString());
        summary.put("changed", changed);
        summary.set("active", active);
        summary.set("models", JsonFiles.MAPPER.valueToTree(iterable(models.fieldNames())));
        return summary;
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    private static ObjectNode readPrevious(Path modelsDir, Console console) {
        Path file = ModelCatalog.file(modelsDir);
        if (!Files.exists(file)) return null;
        try {
            return JsonFiles.readObject(file);
        } catch (KitException | IOException e) {
            console.warn(file + " could not be read (" + e.getMessage() + "); writing a fresh one");
            return null;
        }
    }

    /** The model for {@code role}: the one asked for, else the current choice if still installed, else the default. */
    private static String choose(String role, String asked, ObjectNode previous, ObjectNode models, String fallback, Path modelsDir) {
        if (asked != null) {
            JsonNode m = models.get(asked);
            if (m == null) {
                List<String> ofRole = new ArrayList<>();
                models.fields().forEachRemaining(e -> { if (role.equals(e.getValue().path("role").asText())) ofRole.add(e.getKey()); });
                String file = ModelCatalog.INSIGHTFACE.stream().filter(k -> k.name().equals(asked)).map(ModelCatalog.Known::file).findFirst().orElse(asked + ".onnx");
                throw new KitException("no " + role + " model named '" + asked + "' is installed in " + modelsDir
                        + " (installed " + role + "s: " + String.join(", ", ofRole) + ")",
                        "copy " + file + " into " + modelsDir + " and run ./jbang fetch-models --" + role + " " + asked + " again");
            }
            if (!role.equals(m.path("role").asText())) {
                throw new KitException("'" + asked + "' is a " + m.path("role").asText() + " model, not a " + role,
                        "pick a " + role + " model for --" + role);
            }
            return asked;
        }
        if (previous != null) {
            String was = previous.path("active").path(role).asText(null);
            if (was != null && models.has(was)) return was;
        }
        return fallback;
    }

    /** npm pack (pinned tarball hash), then install the wanted model files, each checked against its own pinned hash. */
    static void fetchFromNpm(Path modelsDir, List<ModelCatalog.Known> wanted, Console console) throws Exception {
        String spec = ModelCatalog.NPM_PACKAGE + "@" + ModelCatalog.NPM_VERSION;
        Set<String> members = new java.util.TreeSet<>();
        for (ModelCatalog.Known k : wanted) members.add("package/model/" + k.file());
        Map<String, byte[]> files;
        try {
            files = NpmPackage.fetch(spec, ModelCatalog.NPM_TARBALL_SHA256, members, modelsDir, "the default face models");
        } catch (KitException e) {
            throw new KitException(e.getMessage(), e.fix() + " (or put fr_detect.onnx, fr_landmark.onnx and fr_feature.onnx from "
                    + spec + ", folder package/model/, into " + modelsDir + ")", e);
        }
        for (ModelCatalog.Known k : wanted) {
            byte[] bytes = files.get("package/model/" + k.file());
            if (bytes == null) throw new KitException(spec + " has no package/model/" + k.file(), "report this: the pinned package should hold it");
            String h = NpmPackage.sha256(bytes);
            if (!h.equals(k.sha256())) throw new KitException(k.file() + " in " + spec + " does not match its pinned hash", "nothing was installed for it; run again");
            AtomicFiles.write(modelsDir.resolve(k.file()), bytes);
            console.ok("installed " + k.file() + " (" + ProgressBar.formatBytes(bytes.length) + ", sha256 " + h.substring(0, 12) + "...)");
        }
    }
}
