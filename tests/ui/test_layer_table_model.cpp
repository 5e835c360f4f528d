// LayerTableModel + LayerFilterProxy: rows from a real model folder, sorting
// by value (not by formatted text), filtering by substring and wildcard.

#include <QtTest>

#include "ui/layer_table_model.h"
#include "ui/model_summary.h"
#include "ui_test_support.h"

using namespace glq::ui;

class TestLayerTableModel : public QObject {
    Q_OBJECT
    ModelSummary summary_;

    static LinearLayer layer(const QString& name, qint64 rows, qint64 cols) {
        LinearLayer l;
        l.name = name;
        l.module = module_type_of(name);
        l.rows = rows;
        l.cols = cols;
        l.dtype = QStringLiteral("BF16");
        return l;
    }

private slots:
    void initTestCase() {
        if (!QFileInfo::exists(test::stories260k() + QStringLiteral("/config.json")))
            QSKIP("stories260K model not found (set GLQ_SHARED_DATA)");
        summary_ = read_model_summary(test::stories260k().toStdString(), {}, glq::CancelToken());
    }

    void summaryOfStories260K() {
        // 5 blocks x 7 projections; tied embeddings, so no lm_head.
        QCOMPARE(summary_.linears.size(), 35);
        QCOMPARE(summary_.layers, 5);
        QCOMPARE(summary_.architecture, QStringLiteral("LlamaForCausalLM"));
        QCOMPARE(summary_.parameters, 260032);
        QCOMPARE(summary_.linears[0].name, QStringLiteral("model.layers.0.self_attn.q_proj"));
        QCOMPARE(summary_.linears[6].name, QStringLiteral("model.layers.0.mlp.down_proj"));
        QCOMPARE(summary_.linears[6].rows, 64);
        QCOMPARE(summary_.linears[6].cols, 172);
        QVERIFY(summary_.bytes_on_disk > summary_.tensor_bytes);
    }

    void rowsAndColumns() {
        LayerTableModel m;
        m.setLayers(summary_.linears);
        QCOMPARE(m.rowCount(), 35);
        QCOMPARE(m.columnCount(), int(LayerTableModel::ColumnCount));
        QCOMPARE(m.index(2, LayerTableModel::Name).data().toString(), QStringLiteral("model.layers.0.self_attn.v_proj"));
        QCOMPARE(m.index(2, LayerTableModel::Module).data().toString(), QStringLiteral("v"));
        QCOMPARE(m.index(2, LayerTableModel::Shape).data().toString(), QStringLiteral("32 × 64"));
        QCOMPARE(m.index(2, LayerTableModel::Parameters).data(LayerTableModel::SortRole).toLongLong(), 2048);
        QCOMPARE(m.index(2, LayerTableModel::DType).data().toString(), QStringLiteral("F32"));
        QCOMPARE(m.rowOf(QStringLiteral("model.layers.4.mlp.up_proj")), 33);
        QCOMPARE(m.rowOf(QStringLiteral("lm_head")), -1);
    }

    void sortsByValueNotText() {
        // As text "9,000" > "10,000"; by value it must be the other way round.
        LayerTableModel m;
        m.setLayers({layer("a.q_proj", 90, 100), layer("b.k_proj", 100, 100), layer("c.v_proj", 1, 8)});
        LayerFilterProxy proxy;
        proxy.setSourceModel(&m);
        proxy.sort(LayerTableModel::Parameters, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("b.k_proj"));
        QCOMPARE(proxy.index(1, 0).data().toString(), QStringLiteral("a.q_proj"));
        QCOMPARE(proxy.index(2, 0).data().toString(), QStringLiteral("c.v_proj"));
        proxy.sort(LayerTableModel::Name, Qt::DescendingOrder);
        QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("c.v_proj"));
    }

    void filters() {
        LayerTableModel m;
        m.setLayers(summary_.linears);
        LayerFilterProxy proxy;
        proxy.setSourceModel(&m);
        proxy.setNameFilter(QStringLiteral("down_proj"));
        QCOMPARE(proxy.rowCount(), 5);
        proxy.setNameFilter(QStringLiteral("DOWN_PROJ"));  // substring match ignores case
        QCOMPARE(proxy.rowCount(), 5);
        proxy.setNameFilter(QStringLiteral("*.mlp.*"));
        QCOMPARE(proxy.rowCount(), 15);
        proxy.setNameFilter(QStringLiteral("model.layers.?.self_attn.[qk]_proj"));  // [ is literal
        QCOMPARE(proxy.rowCount(), 0);
        proxy.setNameFilter(QStringLiteral("model.layers.3.*"));
        QCOMPARE(proxy.rowCount(), 7);
        proxy.setNameFilter(QStringLiteral("mlp.down"));  // no wildcard: substring, not whole name
        QCOMPARE(proxy.rowCount(), 5);
        proxy.setNameFilter(QString());
        QCOMPARE(proxy.rowCount(), 35);
    }

    void moduleTypes() {
        QCOMPARE(module_type_of(QStringLiteral("model.layers.3.mlp.gate_proj")), ModuleType::Gate);
        QCOMPARE(module_type_of(QStringLiteral("model.layers.3.self_attn.o_proj.weight")), ModuleType::O);
        QCOMPARE(module_type_of(QStringLiteral("lm_head")), ModuleType::Other);
    }

    void memoryEstimate() {
        const MemoryEstimate bf16 = estimate_memory(summary_, 2, 512);
        QCOMPARE(bf16.weights, uint64_t(260032) * 2);
        // 5 layers x K,V x 4 kv heads x head dim 8 x 512 tokens x 2 bytes
        QCOMPARE(bf16.kv_cache, uint64_t(5 * 2 * 4 * 8 * 512 * 2));
        const MemoryEstimate f32 = estimate_memory(summary_, 4, 512);
        QCOMPARE(f32.weights, 2 * bf16.weights);
        QVERIFY(f32.total() > bf16.total());
    }

    void formatting() {
        QCOMPARE(format_bytes(812), QStringLiteral("812 B"));
        QCOMPARE(format_bytes(1536), QStringLiteral("1.50 KiB"));
        QCOMPARE(format_bytes(quint64(135) << 20), QStringLiteral("135.0 MiB"));
        QCOMPARE(format_count(134515008), QStringLiteral("134.5 M"));
        QCOMPARE(format_count(999), QStringLiteral("999"));
    }
};

GLQ_QTEST_MAIN(TestLayerTableModel)
#include "test_layer_table_model.moc"
