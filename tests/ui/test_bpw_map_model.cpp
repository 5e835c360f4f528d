// BpwMapModel: editing (single, multi-row, pattern, table edit), undo/redo,
// the read-out (core/plan/budget.h's arithmetic, tested on its own in
// tests/plan), the Allocate button against `glqw allocate` (one allocator),
// bpw_allocation.json round trip through the model (core's plan::BpwMap; its
// parsing is tested in tests/plan/test_bpw_map) and how its errors leave the
// map, and the sensitivity table reader's errors. Every expected number is
// worked out by hand in the comments.

#include <QProcess>
#include <QSignalSpy>
#include <QtTest>

#include "core/common/error.h"
#include "core/plan/bpw_map.h"
#include "ui/bpw_map_model.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

const QString A = QStringLiteral("model.layers.0.self_attn.q_proj");
const QString B = QStringLiteral("model.layers.0.mlp.down_proj");
const QString C = QStringLiteral("model.layers.1.mlp.down_proj");

// A: 8x16 = 128 params, measured at 2, 3, 4 bpw.
// B: 4x12 = 48 params (padded to 4x16 = 64), measured at 2 bpw only.
// C: 2x8 = 16 params, nothing measured.
std::vector<LayerSensitivity> three_layers() {
    LayerSensitivity a, b, c;
    a.name = A.toStdString(), a.rows = 8, a.cols = 16;
    a.set_loss(2, 1.0), a.set_loss(3, 0.3), a.set_loss(4, 0.1);
    b.name = B.toStdString(), b.rows = 4, b.cols = 12;
    b.set_loss(2, 0.8);
    c.name = C.toStdString(), c.rows = 2, c.cols = 8;
    return {a, b, c};
}

// Expects `fn` to throw glq::Error whose message contains every `parts`.
template <typename Fn>
void expect_error(Fn fn, const QStringList& parts) {
    try {
        fn();
    } catch (const glq::Error& e) {
        const QString what = QString::fromStdString(e.what());
        for (const QString& p : parts)
            QVERIFY2(what.contains(p), qPrintable(QStringLiteral("'%1' lacks '%2'").arg(what, p)));
        return;
    }
    QFAIL("no glq::Error thrown");
}

} // namespace

class TestBpwMapModel : public QObject {
    Q_OBJECT
private slots:
    void initialState() {
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        QCOMPARE(m.rowCount(), 3);
        QCOMPARE(m.index(1, BpwMapModel::Bpw).data().toInt(), 4);
        QCOMPARE(m.index(1, BpwMapModel::Module).data().toString(), QStringLiteral("down"));
        QVERIFY(m.flags(m.index(0, BpwMapModel::Bpw)) & Qt::ItemIsEditable);
        QVERIFY(!(m.flags(m.index(0, BpwMapModel::Name)) & Qt::ItemIsEditable));
        QCOMPARE(m.undoStack()->count(), 0);
    }

    void budgetArithmetic() {
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        QVERIFY(m.setBpw({0}, 4));
        QVERIFY(m.setBpw({1}, 3));
        const glq::plan::BudgetSummary s = m.summary();
        // (128*4 + 48*3 + 16*2) / 192 = 688 / 192
        QCOMPARE(s.average_bpw, 688.0 / 192.0);
        QCOMPARE(s.parameters, 192);
        QCOMPARE(s.stored_bytes, quint64(120 + 64 + 28));
        QCOMPARE(s.original_bytes_bf16, quint64(384));
        // A@4 measured 0.1 + B@3 predicted 0.8/4 = 0.2; C has no loss.
        QVERIFY(qFuzzyCompare(s.predicted_loss, 0.3));
        QCOMPARE(s.layers_without_loss, 1);
    }

    void setSingleMultiAndRefuseBadValues() {
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        QSignalSpy changed(&m, &BpwMapModel::mapChanged);
        QVERIFY(m.setBpw({0, 2}, 6));
        QCOMPARE(m.bpw(), (std::vector<int>{6, 4, 6}));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(m.undoStack()->count(), 1);  // one step for two rows
        QVERIFY(!m.setBpw({1}, 9));
        QVERIFY(!m.setBpw({1}, 1));
        QVERIFY(!m.setBpw({7}, 4));
        QVERIFY(!m.setBpw({}, 4));
        QCOMPARE(m.bpw(), (std::vector<int>{6, 4, 6}));
        QCOMPARE(m.undoStack()->count(), 1);
        // Editing the table cell goes through the same undoable path.
        QVERIFY(m.setData(m.index(1, BpwMapModel::Bpw), 7, Qt::EditRole));
        QCOMPARE(m.bpwAt(1), 7);
        QVERIFY(!m.setData(m.index(1, BpwMapModel::Name), QStringLiteral("x"), Qt::EditRole));
        QCOMPARE(m.undoStack()->count(), 2);
    }

    void patternSetAndUndoRedo() {
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        QVERIFY(m.setBpw({0}, 6));
        QCOMPARE(m.setBpwByPattern(QStringLiteral("*.mlp.down_proj"), 5), 2);
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        QCOMPARE(m.setBpwByPattern(QStringLiteral("model.layers.?.mlp.*"), 3), 2);
        QCOMPARE(m.setBpwByPattern(QStringLiteral("down_proj"), 3), 0);  // patterns match whole names
        QCOMPARE(m.setBpwByPattern(QStringLiteral("*"), 9), 0);
        QCOMPARE(m.undoStack()->count(), 3);

        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 2, 2}));
        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{2, 2, 2}));
        QVERIFY(!m.undoStack()->canUndo());
        m.undoStack()->redo();
        m.undoStack()->redo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        QCOMPARE(m.summary().average_bpw, (128.0 * 6 + 48 * 5 + 16 * 5) / 192);
    }

    void allocate() {
        // Sizes A 128, B 48, C 16 parameters (total 192); target 3 -> budget
        // 576 bits, 384 at 2 bpw, 192 to spend. Losses (predicted ones 4x per
        // bit): A 1.0/0.3/0.1 at 2/3/4, B 0.8/0.2/0.05, C 0.5/0.125/0.03125.
        // A+1, B+1, C+1 costs 128+48+16 = 192 for 0.3+0.2+0.125 = 0.625; the
        // best without raising A is 1.0 + B 5 (0.0125) + C 5 (0.0078) = 1.02.
        auto layers = three_layers();
        layers[2].set_loss(2, 0.5);
        BpwMapModel m;
        m.setLayers(layers, 4);
        m.allocate(3.0);
        QCOMPARE(m.bpw(), (std::vector<int>{3, 3, 3}));
        QCOMPARE(m.summary().average_bpw, 3.0);
        QVERIFY(qFuzzyCompare(m.summary().predicted_loss, 0.625));
        QCOMPARE(m.undoStack()->count(), 1);
        m.allocate(8.0);
        QCOMPARE(m.bpw(), (std::vector<int>{8, 8, 8}));
        // Core's errors, under its setting names; the map stays as it was.
        expect_error([&] { m.allocate(1.5); }, {QStringLiteral("target bpw"), QStringLiteral("[2, 8]")});
        expect_error([&] { m.allocate(3.0, 5, 4); }, {QStringLiteral("above max")});
        QCOMPARE(m.bpw(), (std::vector<int>{8, 8, 8}));
        QCOMPARE(m.undoStack()->count(), 2);
    }

    void allocateRefusesUnmeasuredLayers() {
        // C has no loss at any rate: an error naming it, as `glqw allocate`
        // (the same function) gives; nothing is guessed, the map is untouched.
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        expect_error([&] { m.allocate(3.0); },
                     {C, QStringLiteral("has no measured proxy loss"), QStringLiteral("profile")});
        QCOMPARE(m.bpw(), (std::vector<int>{4, 4, 4}));
        QCOMPARE(m.undoStack()->count(), 0);
        BpwMapModel empty;
        LayerSensitivity x;
        x.name = "model.layers.0.self_attn.q_proj", x.rows = 8, x.cols = 8;
        empty.setLayers(std::vector<LayerSensitivity>{x});
        expect_error([&] { empty.allocate(3.0); }, {QStringLiteral("no sensitivity measured")});
    }

    void allocateMatchesGlqwAllocate() {
        // One table (20 layers measured at every rate, 15 at 2 bpw only, so
        // predictions count), several requests: the Allocate button's map
        // equals the map `glqw allocate` writes, layer for layer.
        const QByteArray glqw = qgetenv("GLQW");
        if (glqw.isEmpty()) QSKIP("GLQW (the glqw binary) is not set; CTest sets it");
        const QString table = test::ui_test_data() + QStringLiteral("/stories260K.sensitivity.json");
        BpwMapModel m;
        m.setLayers(SensitivityTable::load(table.toStdString()).layers, 4);
        QTemporaryDir dir;
        struct Request {
            double target;
            int min, max;
        };
        for (const Request r : {Request{2.5, 2, 8}, Request{3.0, 2, 8}, Request{3.37, 2, 6}, Request{4.25, 3, 8},
                                Request{6.0, 2, 8}}) {
            const QString out = dir.filePath(QStringLiteral("map-%1.json").arg(r.target));
            QProcess p;
            p.start(QString::fromLocal8Bit(glqw),
                    {QStringLiteral("allocate"), table, QStringLiteral("--target"), QString::number(r.target),
                     QStringLiteral("--min"), QString::number(r.min), QStringLiteral("--max"), QString::number(r.max),
                     QStringLiteral("--out"), out});
            QVERIFY(p.waitForFinished(60000));
            QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
            const glq::plan::BpwMap cli = glq::plan::BpwMap::load(out.toStdString());
            m.allocate(r.target, r.min, r.max);
            QCOMPARE(cli.layers.size(), m.layers().size());
            for (int row = 0; row < m.rowCount(); ++row) {
                const std::string& name = m.layers()[static_cast<size_t>(row)].name;
                QVERIFY2(cli.layers.count(name), name.c_str());
                QCOMPARE(m.bpwAt(row), cli.layers.at(name));
            }
            QVERIFY(m.summary().average_bpw <= r.target + 1e-12);
            // The read-out's numbers are the ones glqw prints.
            const QString printed = QString::fromUtf8(p.readAllStandardOutput());
            QVERIFY2(printed.contains(QStringLiteral("average %1 bpw").arg(m.summary().average_bpw, 0, 'f', 4)),
                     qPrintable(printed));
        }
    }

    void allocationJsonRoundTrip() {
        QTemporaryDir dir;
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        m.setBpw({0}, 7);
        m.setBpw({2}, 3);
        const QString path = dir.filePath(QStringLiteral("bpw_allocation.json"));
        m.saveAllocation(path);
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(o.size(), 3);
        QCOMPARE(o.value(A).toInt(), 7);
        QVERIFY(o.value(A).isDouble());  // JSON number, not a string
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);  // no temporary left behind

        BpwMapModel n;
        n.setLayers(three_layers(), 5);
        n.loadAllocation(path);
        QCOMPARE(n.bpw(), (std::vector<int>{7, 2, 3}));
        QCOMPARE(n.undoStack()->count(), 1);
        n.undoStack()->undo();
        QCOMPARE(n.bpw(), (std::vector<int>{5, 5, 5}));
    }

    void allocationDefaultKey() {
        QTemporaryDir dir;
        const QString path = test::write_text(dir, QStringLiteral("m.json"),
                                              QByteArray("{\"default\": 5, \"") + A.toUtf8() + "\": 3}");
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        m.loadAllocation(path);
        QCOMPARE(m.bpw(), (std::vector<int>{3, 5, 5}));
        // Without "default", unlisted layers get 2, as the reference does.
        const QString path2 = test::write_text(dir, QStringLiteral("n.json"), QByteArray("{\"") + B.toUtf8() + "\": 6}");
        m.loadAllocation(path2);
        QCOMPARE(m.bpw(), (std::vector<int>{2, 6, 2}));
    }

    void allocationJsonErrors() {
        QTemporaryDir dir;
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        const auto bad = [&](const char* file, const QByteArray& text, const QStringList& parts) {
            const QString path = test::write_text(dir, QString::fromLatin1(file), text);
            expect_error([&] { m.loadAllocation(path); }, QStringList{path} + parts);
            QCOMPARE(m.bpw(), (std::vector<int>{4, 4, 4}));  // untouched
        };
        bad("truncated.json", "{\"" + A.toUtf8() + "\": ", {QStringLiteral("not valid JSON")});
        bad("array.json", "[4, 4]", {QStringLiteral("must be a JSON object")});
        bad("unknown.json", "{\"model.layers.9.mlp.up_proj\": 4}",
            {QStringLiteral("unknown layer 'model.layers.9.mlp.up_proj'")});
        bad("range.json", "{\"" + A.toUtf8() + "\": 9}", {A, QStringLiteral("outside 2..8")});
        bad("string.json", "{\"" + A.toUtf8() + "\": \"4\"}", {A, QStringLiteral("integer")});
        bad("float.json", "{\"" + A.toUtf8() + "\": 4.5}", {A, QStringLiteral("integer")});
        bad("default.json", "{\"default\": 1}", {QStringLiteral("default"), QStringLiteral("outside 2..8")});
        expect_error([&] { m.loadAllocation(dir.filePath(QStringLiteral("missing.json"))); },
                     {QStringLiteral("missing.json")});
        QCOMPARE(m.undoStack()->count(), 0);
    }

    void sensitivityTableRoundTripAndErrors() {
        SensitivityTable t;
        t.model = "tiny";
        t.layers = three_layers();
        const SensitivityTable back = SensitivityTable::from_json_text(t.to_json_text(), "mem");
        QCOMPARE(back.layers.size(), size_t(2));  // C has nothing measured: left out
        QCOMPARE(back.layers[0].loss(3), 0.3);
        QVERIFY(!back.layers[1].measured(3));
        QCOMPARE(back.model, std::string("tiny"));

        const auto bad = [](const std::string& text, const QString& part) {
            expect_error([&] { SensitivityTable::from_json_text(text, "s.json"); }, {QStringLiteral("s.json"), part});
        };
        bad("nope", QStringLiteral("not valid JSON"));
        bad(R"({"format": "other", "version": 1, "layers": []})", QStringLiteral("not a sensitivity table"));
        bad(R"({"format": "glq-sensitivity", "version": 3, "layers": []})", QStringLiteral("version"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": []})", QStringLiteral("non-empty"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 0, "cols": 8, "proxy_loss": {"2": 1}}]})",
            QStringLiteral("\"rows\" must be a positive integer"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"9": 1}}]})",
            QStringLiteral("bpw \"9\""));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": -1}}]})",
            QStringLiteral("finite number >= 0"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}},
                                                                    {"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}}]})",
            QStringLiteral("listed twice"));
    }

    void applySensitivityToModelLayers() {
        // A model's layers start without losses; a table fills the ones it names.
        BpwMapModel m;
        LinearLayer a;
        a.name = A, a.rows = 8, a.cols = 16;
        LinearLayer z;
        z.name = QStringLiteral("model.layers.0.self_attn.k_proj"), z.rows = 4, z.cols = 16;
        m.setLayers(QVector<LinearLayer>{a, z}, 3);
        QCOMPARE(m.summary().layers_without_loss, 2);
        SensitivityTable t;
        t.layers = three_layers();
        m.applySensitivity(t);
        QCOMPARE(m.summary().layers_without_loss, 1);
        QCOMPARE(m.summary().predicted_loss, 0.3);
        QCOMPARE(m.index(0, BpwMapModel::Sensitivity).data().toString(), QStringLiteral("1"));
    }
};

GLQ_QTEST_MAIN(TestBpwMapModel)
#include "test_bpw_map_model.moc"
