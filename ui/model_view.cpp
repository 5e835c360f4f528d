#include "ui/model_view.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include "ui/device_monitor.h"
#include "ui/layer_table_model.h"
#include "ui/worker.h"

namespace glq::ui {

namespace {
enum Fact { Architecture, ModelType, Parameters, Blocks, Hidden, Heads, Vocab, Context, DTypeFact, OnDisk, InMemory, Quantization };
const char* kFactNames[] = {"Architecture", "Model type", "Parameters", "Transformer blocks", "Hidden / MLP size",
                            "Attention heads (KV)", "Vocabulary", "Context length", "DType (config / stored)",
                            "Size on disk", "Weights in memory", "Quantization"};
} // namespace

ModelView::ModelView(DeviceMonitor* devices, QWidget* parent) : QWidget(parent), devices_(devices) {
    auto* openFolder = new QPushButton(QIcon(QStringLiteral(":/glq/icons/model.svg")), tr("Open model folder…"));
    auto* importGguf = new QPushButton(tr("Import GGUF…"));
    path_ = new QLabel(tr("No model open. Open a HuggingFace model folder or import a .gguf file — or drop one on this window."));
    path_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    path_->setWordWrap(true);
    auto* top = new QHBoxLayout;
    top->addWidget(openFolder);
    top->addWidget(importGguf);
    top->addWidget(path_, 1);
    connect(openFolder, &QPushButton::clicked, this, &ModelView::openFolderRequested);
    connect(importGguf, &QPushButton::clicked, this, &ModelView::importGgufRequested);

    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    progressText_ = new QLabel;
    cancel_ = new QPushButton(tr("Cancel"));
    auto* job = new QHBoxLayout;
    job->addWidget(progressText_);
    job->addWidget(progress_, 1);
    job->addWidget(cancel_);
    connect(cancel_, &QPushButton::clicked, this, &ModelView::cancelRequested);
    showJobEnded();

    auto* summaryBox = new QGroupBox(tr("Summary"));
    form_ = new QFormLayout(summaryBox);
    for (int i = 0; i < 12; ++i) {
        facts_[i] = new QLabel(QStringLiteral("—"));
        facts_[i]->setTextInteractionFlags(Qt::TextSelectableByMouse);
        form_->addRow(tr(kFactNames[i]) + QLatin1Char(':'), facts_[i]);
    }

    auto* memoryBox = new QGroupBox(tr("Memory check (before loading)"));
    auto* mem = new QFormLayout(memoryBox);
    device_ = new QComboBox;
    precision_ = new QComboBox;
    precision_->addItem(tr("bf16 (2 bytes/weight)"), 2);
    precision_->addItem(tr("f32 (4 bytes/weight)"), 4);
    context_ = new QSpinBox;
    context_->setRange(1, 1 << 20);
    context_->setValue(2048);
    context_->setSuffix(tr(" tokens"));
    memory_ = new QLabel(QStringLiteral("—"));
    memory_->setWordWrap(true);
    memory_->setTextFormat(Qt::RichText);
    useCpu_ = new QPushButton(tr("Use the CPU instead"));
    useCpu_->setVisible(false);
    mem->addRow(tr("Device:"), device_);
    mem->addRow(tr("Precision:"), precision_);
    mem->addRow(tr("KV cache for:"), context_);
    mem->addRow(tr("Needs:"), memory_);
    mem->addRow(QString(), useCpu_);
    connect(useCpu_, &QPushButton::clicked, this, [this] { setChosenDevice(QStringLiteral("cpu")); });
    connect(device_, &QComboBox::currentIndexChanged, this, [this] {
        refreshMemory();
        emit chosenDeviceChanged(chosenDevice());
    });
    connect(precision_, &QComboBox::currentIndexChanged, this, &ModelView::refreshMemory);
    connect(context_, &QSpinBox::valueChanged, this, &ModelView::refreshMemory);
    connect(devices_, &DeviceMonitor::updated, this, &ModelView::refreshDevices);

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(summaryBox);
    leftLayout->addWidget(memoryBox);
    leftLayout->addStretch(1);

    layers_ = new LayerTableModel(this);
    proxy_ = new LayerFilterProxy(this);
    proxy_->setSourceModel(layers_);
    table_ = new QTableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // checkpoint order until a header is clicked
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->horizontalHeader()->setSectionResizeMode(LayerTableModel::Name, QHeaderView::Stretch);
    table_->verticalHeader()->setVisible(false);
    table_->setWordWrap(false);
    table_->setAlternatingRowColors(true);
    filter_ = new QLineEdit;
    filter_->setPlaceholderText(tr("Filter layers: text, or a pattern such as *.mlp.down_proj"));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, proxy_, &LayerFilterProxy::setNameFilter);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
        if (cur.isValid()) emit layerSelected(proxy_->mapToSource(cur).siblingAtColumn(0).data().toString());
    });

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(new QLabel(tr("Linear layers")));
    rightLayout->addWidget(filter_);
    rightLayout->addWidget(table_, 1);

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addLayout(job);
    layout->addWidget(split, 1);
    refreshDevices();
}

void ModelView::setSummary(const ModelSummary& s) {
    summary_ = s;
    loaded_ = true;
    path_->setText(s.dir);
    facts_[Architecture]->setText(s.architecture);
    facts_[ModelType]->setText(s.model_type);
    facts_[Parameters]->setText(QStringLiteral("%1 (%2)").arg(format_count(s.parameters)).arg(s.parameters));
    facts_[Blocks]->setText(QString::number(s.layers));
    facts_[Hidden]->setText(QStringLiteral("%1 / %2").arg(s.hidden_size).arg(s.intermediate_size));
    facts_[Heads]->setText(QStringLiteral("%1 (%2), head dim %3").arg(s.attention_heads).arg(s.kv_heads).arg(s.head_dim));
    facts_[Vocab]->setText(QString::number(s.vocab_size) + (s.tied_embeddings ? tr(", tied embeddings") : QString()));
    facts_[Context]->setText(tr("%1 tokens").arg(s.context_length));
    facts_[DTypeFact]->setText(QStringLiteral("%1 / %2").arg(s.dtype, s.stored_dtypes));
    facts_[OnDisk]->setText(format_bytes(s.bytes_on_disk));
    facts_[InMemory]->setText(tr("%1 as stored, %2 in bf16, %3 in f32")
                                  .arg(format_bytes(s.tensor_bytes), format_bytes(static_cast<quint64>(s.parameters) * 2),
                                       format_bytes(static_cast<quint64>(s.parameters) * 4)));
    facts_[Quantization]->setText(s.quantization.isEmpty() ? tr("none (dense)") : s.quantization);
    context_->setValue(static_cast<int>(std::min<qint64>(s.context_length, context_->maximum())));
    layers_->setLayers(s.linears);
    table_->resizeColumnsToContents();
    refreshMemory();
}

void ModelView::clearSummary() {
    summary_ = {};
    loaded_ = false;
    for (QLabel* f : facts_) f->setText(QStringLiteral("—"));
    layers_->setLayers({});
    refreshMemory();
}

void ModelView::selectLayer(const QString& name) {
    const int row = layers_->rowOf(name);
    if (row < 0) return;
    const QModelIndex idx = proxy_->mapFromSource(layers_->index(row, 0));
    if (!idx.isValid()) return;  // filtered out
    QSignalBlocker block(table_->selectionModel());
    table_->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->scrollTo(idx);
}

QString ModelView::chosenDevice() const {
    return device_->currentData().toString().isEmpty() ? QStringLiteral("cpu") : device_->currentData().toString();
}

void ModelView::setChosenDevice(const QString& id) {
    const int i = device_->findData(id);
    if (i >= 0) device_->setCurrentIndex(i);
}

bool ModelView::fitsOnChosenDevice() const {
    if (!loaded_) return true;
    const auto est = estimate_memory(summary_, precision_->currentData().toInt(), context_->value());
    return est.total() <= devices_->device(chosenDevice()).free_bytes();
}

QString ModelView::memoryVerdict() const { return memory_->text(); }

void ModelView::refreshDevices() {
    const QString keep = chosenDevice();
    QSignalBlocker block(device_);
    device_->clear();
    for (const DeviceInfo& d : devices_->devices())
        device_->addItem(QStringLiteral("%1 — %2 (%3 free of %4)")
                             .arg(d.id, d.name, format_bytes(d.free_bytes()), format_bytes(d.total_bytes)),
                         d.id);
    const int i = device_->findData(keep);
    device_->setCurrentIndex(i >= 0 ? i : 0);
    refreshMemory();
}

void ModelView::refreshMemory() {
    if (!loaded_) {
        memory_->setText(tr("open a model to see what it needs"));
        useCpu_->setVisible(false);
        return;
    }
    const auto est = estimate_memory(summary_, precision_->currentData().toInt(), context_->value());
    const DeviceInfo d = devices_->device(chosenDevice());
    const bool fits = est.total() <= d.free_bytes();
    const QString breakdown = tr("%1 = weights %2 + KV cache %3 + workspace %4")
                                  .arg(format_bytes(est.total()), format_bytes(est.weights), format_bytes(est.kv_cache),
                                       format_bytes(est.workspace));
    if (fits) {
        memory_->setText(breakdown + tr("<br><span style='color:#1b7a2f'>fits: %1 free on %2</span>")
                                         .arg(format_bytes(d.free_bytes()), d.id));
    } else {
        memory_->setText(breakdown + tr("<br><span style='color:#b00020'><b>does not fit</b>: only %1 free on %2.</span>")
                                         .arg(format_bytes(d.free_bytes()), d.id) +
                         (d.is_gpu() ? tr(" Choose the CPU or a smaller context.") : tr(" Close other programs or choose a smaller context.")));
    }
    useCpu_->setVisible(!fits && d.is_gpu());
}

void ModelView::showJobStarted(const QString& title) {
    progressText_->setText(title);
    progress_->setRange(0, 0);  // busy until the first report
    for (QWidget* w : std::initializer_list<QWidget*>{progressText_, progress_, cancel_}) w->setVisible(true);
    cancel_->setEnabled(true);
}

void ModelView::showJobProgress(const JobProgress& p) {
    const int pm = p.permille();
    if (pm < 0) {
        progress_->setRange(0, 0);
    } else {
        progress_->setRange(0, 1000);
        progress_->setValue(pm);
    }
    progressText_->setText(QStringLiteral("%1: %2 %3").arg(p.stage, p.item, format_eta(p.eta_s)).trimmed());
}

void ModelView::showJobEnded() {
    for (QWidget* w : std::initializer_list<QWidget*>{progressText_, progress_, cancel_}) w->setVisible(false);
}

} // namespace glq::ui
