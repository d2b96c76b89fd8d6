import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * calibrate: measures an embedding model on the archive's own CONFIRMED people (not merged
 * away; their anchor and candidate faces that have an embedding of that model) and proposes
 * its thresholds (lib/Calibration.java says how each label is picked). Applying writes them
 * into models/models.json under thresholds.&lt;model&gt;, for that model only, after a backup
 * of models.json in models/backups/. Matching and the review page read them from there
 * (MatchThresholds). Too few people → the plan says so and there is nothing to do.
 */
public final class CalibrateStep implements Step<CalibrateStep.Plan, CalibrateStep.Result> {

    /** model: the embedding model to calibrate; null = the active recognizer's. */
    public record Options(String model) {}

    /** One confirmed person counted: identity id, name, faces with an embedding of the model. */
    public record Person(String identityId, String name, int faces) {}

    /**
     * enough: at least MIN_PEOPLE people with 2 faces or more; reason says why not otherwise.
     * current: the model's thresholds in models.json now (null when it has none).
     */
    public record Plan(String model, String modelsFile, int people, int peopleWithPairs, int faces, int samePairs, int otherPairs,
                       boolean enough, String reason, Calibration.Proposal proposal, double[] current,
                       List<Calibration.Point> curve, boolean write, String activeModel) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return !enough;
        }

        @Override
        public void print(Console c) {
            c.section("Calibrate " + model + " on the archive's confirmed people");
            c.info(String.format("%d confirmed people with faces of this model (%d with 2 faces or more), %d faces: %d same-person and %d other-person pairs",
                    people, peopleWithPairs, faces, samePairs, otherPairs));
            if (!enough) {
                c.warn(reason);
                c.info("Nothing changed.");
                return;
            }
            c.info("");
            c.info("  distance <   precision   recall   same pairs  other pairs");
            Set<Double> marks = new HashSet<>();
            for (double v : proposal.values()) marks.add(v);
            for (Calibration.Point p : curve) {
                long hundredths = Math.round(p.threshold() * 100);
                boolean show = marks.contains(p.threshold()) || (hundredths % 5 == 0 && p.samePairs() > 0 && p.precision() >= 0.5);
                if (!show) continue;
                c.info(String.format("  %10.2f   %8.1f%%  %6.1f%%  %11d  %11d%s", p.threshold(), 100 * p.precision(), 100 * p.recall(),
                        p.samePairs(), p.otherPairs(), label(p.threshold())));
            }
            c.info("");
            String[] names = {"very_high", "high", "moderate", "medium", "low", "grouping"};
            double[] v = proposal.values();
            for (int i = 0; i < names.length; i++) {
                c.info(String.format("  %-10s %.2f%s", names[i], v[i], current == null ? "" : String.format("   (now %.2f)", current[i])));
            }
            for (String n : proposal.notes()) c.warn(n);
            if (!write) c.info("Print only. To write these into " + modelsFile + ": ./jbang calibrate --write" + (model.equals(activeModel) ? "" : " --model " + model) + ".");
        }

        private String label(double t) {
            StringBuilder b = new StringBuilder();
            String[] names = {"VERY HIGH", "HIGH", "MODERATE", "MEDIUM", "LOW", "GROUPING"};
            double[] v = proposal.values();
            for (int i = 0; i < v.length; i++) if (v[i] == t) b.append(b.length() == 0 ? "   <- " : ", ").append(names[i]);
            return b.toString();
        }
    }

    public record Result(String model, String modelsFile, String backup, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (modelsFile == null) return;
            c.ok("wrote the thresholds of " + model + " into " + modelsFile + " (previous file kept as " + backup + ")");
        }
    }

    private final Options options;

    public CalibrateStep(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "calibrate";
    }

    @Override
    public String howToApply() {
        return "run again with --write";  // calibrate's default is to print only: --write is what applies
    }

    @Override
    public Plan plan(KitContext ctx) throws IOException {
        Path modelsDir = ctx.layout().models();
        Path modelsFile = ModelCatalog.file(modelsDir);
        String active = ModelCatalog.activeEmbeddingModelIfAny(modelsDir);
        String model = options.model() != null ? options.model() : ModelCatalog.activeEmbeddingModel(modelsDir);
        if (!ctx.dryRun() && !Files.isRegularFile(modelsFile)) {
            throw new KitException("there is no " + modelsFile + " to write the thresholds into", "run ./jbang fetch-models first, or give --models-dir");
        }
        ObjectNode identities = new ArchiveFiles(ctx.layout().data()).readIdentities();
        EmbeddingStore store = EmbeddingStore.open(ctx.layout().data());

        Map<String, List<float[]>> byPerson = new LinkedHashMap<>();
        Map<String, String> names = new HashMap<>();
        Map<String, Integer> seen = new HashMap<>();
        List<Map.Entry<String, List<String>>> confirmed = confirmedPeople(identities);
        for (var e : confirmed) for (String f : e.getValue()) seen.merge(f, 1, Integer::sum);
        for (var e : confirmed) {
            List<float[]> vs = new ArrayList<>();
            for (String fid : e.getValue()) {
                EmbeddingStore.Face f = store.get(fid);
                // A face claimed by two confirmed people cannot say which pair it belongs to.
                if (f == null || !model.equals(f.model()) || seen.get(fid) > 1) continue;
                vs.add(f.mu());
            }
            if (vs.isEmpty()) continue;
            byPerson.put(e.getKey(), vs);
            names.put(e.getKey(), identities.path("identities").path(e.getKey()).path("name").asText(""));
        }
        int faces = byPerson.values().stream().mapToInt(List::size).sum();
        int withPairs = (int) byPerson.values().stream().filter(v -> v.size() >= 2).count();
        double[] current = current(modelsFile, model);
        if (withPairs < Calibration.MIN_PEOPLE || byPerson.size() < 2) {
            String why = String.format("Too few confirmed people to calibrate %s: %d with 2 faces or more (at least %d needed).",
                    model, withPairs, Calibration.MIN_PEOPLE);
            Set<String> others = new LinkedHashSet<>(store.models());
            others.remove(model);
            if (!others.isEmpty()) why += " The archive's faces are embedded with " + String.join(", ", others)
                    + ": ./jbang calibrate --model " + others.iterator().next() + " measures that model.";
            else why += " Confirm more people (2 faces each or more) on the site, then run it again.";
            return new Plan(model, modelsFile.toString(), byPerson.size(), withPairs, faces, 0, 0, false, why, null, current, List.of(), !ctx.dryRun(), active);
        }
        Calibration.Pairs pairs = Calibration.pairs(byPerson);
        return new Plan(model, modelsFile.toString(), byPerson.size(), withPairs, faces, pairs.same().length, pairs.other().length,
                true, null, Calibration.propose(pairs), current, Calibration.curve(pairs), !ctx.dryRun(), active);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws IOException {
        if (plan.nothingToDo()) return new Result(plan.model(), null, null, List.of());
        Path file = Path.of(plan.modelsFile());
        ObjectNode doc = JsonFiles.readObject(file);
        Path backup = ModelCatalog.backup(file);
        ObjectNode all = doc.path("thresholds").isObject() ? (ObjectNode) doc.get("thresholds") : doc.putObject("thresholds");
        ObjectNode entry = ModelCatalog.thresholdEntry(plan.proposal().values(), String.format(
                "./jbang calibrate on %s, %s: %d confirmed people, %d faces, %d same-person and %d other-person pairs",
                ctx.layout().data(), Timestamps.archive().substring(0, 10), plan.people(), plan.faces(), plan.samePairs(), plan.otherPairs()));
        entry.put(ModelCatalog.CALIBRATED_BY, ModelCatalog.CALIBRATE);
        all.set(plan.model(), entry);
        JsonFiles.write(file, doc);
        return new Result(plan.model(), file.toString(), backup.toString(), List.of());
    }

    /** CONFIRMED identities not merged away, each with its face ids (anchors, then candidates). */
    static List<Map.Entry<String, List<String>>> confirmedPeople(ObjectNode identities) {
        List<Map.Entry<String, List<String>>> out = new ArrayList<>();
        for (var it = identities.path("identities").fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode ident = e.getValue();
            if (!"CONFIRMED".equals(ident.path("state").asText()) || Identities.isMerged(ident)) continue;
            LinkedHashSet<String> ids = new LinkedHashSet<>();
            for (String key : new String[] {"anchor_ids", "candidate_ids"}) {
                for (JsonNode a : ident.path(key)) {
                    // An anchor may be a string or {"face_id": ...} (data-files.md).
                    JsonNode id = a.isTextual() ? a : a.get("face_id");
                    if (id != null && id.isTextual()) ids.add(id.asText());
                }
            }
            out.add(Map.entry(e.getKey(), new ArrayList<>(ids)));
        }
        return out;
    }

    /** The model's thresholds in models.json now, in Calibration's order; null when it has none. */
    static double[] current(Path modelsFile, String model) throws IOException {
        if (!Files.isRegularFile(modelsFile)) return null;
        JsonNode t = JsonFiles.readObject(modelsFile).path("thresholds").path(model);
        if (!t.isObject()) return null;
        String[] keys = {"very_high", "high", "moderate", "medium", "low", "grouping"};
        double[] v = new double[keys.length];
        for (int i = 0; i < keys.length; i++) v[i] = t.path(keys[i]).asDouble(Double.NaN);
        return v;
    }
}
