#include "ui/bpw_map_view.h"

#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QVBoxLayout>

#include "core/common/error.h"
#include "ui/bpw_map_model.h"
#include "ui/layer_table_model.h"
#include "ui/sensitivity_plots.h"

namespace glq::ui {

namespace {
// The bpw cell edits with a spin box limited to 2..8.
class BpwDelegate : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const override {
        auto* spin = new QSpinBox(parent);
        spin->setRange(kMinBpw, kMaxBpw);
        spin->setFrame(false);
        return spin;
    }
};

QSpinBox* bpw_spin(int value) {
    auto* s = new QSpinBox;
    s->setRange(kMinBpw, kMaxBpw);
    s->setValue(value);
    s->setSuffix(QStringLiteral(" bpw"));
    return s;
}
} // namespace

BpwMapView::BpwMapView(BpwMapModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    proxy_ = new LayerFilterProxy(this);
    proxy_->setSortRole(BpwMapModel::SortRole);
    proxy_->setSourceModel(model_);
    table_ = new QTableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    table_->setItemDelegateForColumn(BpwMapModel::Bpw, new BpwDelegate(table_));
    table_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                            QAbstractItemView::AnyKeyPressed);
    table_->horizontalHeader()->setSectionResizeMode(BpwMapModel::Name, QHeaderView::Stretch);
    table_->verticalHeader()->setVisible(false);
    table_->setWordWrap(false);
    table_->setTextElideMode(Qt::ElideMiddle);
    for (int c = BpwMapModel::Module; c < BpwMapModel::ColumnCount; ++c)
        table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    table_->setAlternatingRowColors(true);
    auto* filter = new QLineEdit;
    filter->setPlaceholderText(tr("Filter: text or pattern (*.self_attn.*)"));
    filter->setClearButtonEnabled(true);
    connect(filter, &QLineEdit::textChanged, proxy_, &LayerFilterProxy::setNameFilter);

    // --- tools ---
    selectedBpw_ = bpw_spin(4);
    auto* setSel = new QPushButton(tr("Set selected"));
    setSel->setToolTip(tr("Set every selected row to this bpw (one undo step)"));
    connect(setSel, &QPushButton::clicked, this, &BpwMapView::setSelected);

    pattern_ = new QLineEdit;
    pattern_->setPlaceholderText(tr("*.mlp.down_proj"));
    patternBpw_ = bpw_spin(4);
    auto* setPat = new QPushButton(tr("Set by pattern"));
    setPat->setToolTip(tr("Set every layer whose full name matches (* = any characters, ? = one) to this bpw"));
    connect(setPat, &QPushButton::clicked, this, &BpwMapView::setByPattern);
    connect(pattern_, &QLineEdit::returnPressed, this, &BpwMapView::setByPattern);

    target_ = new QDoubleSpinBox;
    target_->setRange(kMinBpw, kMaxBpw);
    target_->setSingleStep(0.25);
    target_->setDecimals(2);
    target_->setValue(3.0);
    target_->setSuffix(QStringLiteral(" bpw"));
    minBpw_ = bpw_spin(kMinBpw);
    maxBpw_ = bpw_spin(kMaxBpw);
    auto* alloc = new QPushButton(tr("Allocate"));
    alloc->setToolTip(tr("Choose one rate per layer minimising the summed proxy loss with an average of at most "
                         "the target (the exact allocator glqw allocate runs); every layer needs a measured loss"));
    connect(alloc, &QPushButton::clicked, this, &BpwMapView::allocate);

    auto* load = new QPushButton(tr("Load map…"));
    auto* save = new QPushButton(tr("Save map…"));
    connect(load, &QPushButton::clicked, this, &BpwMapView::loadRequested);
    connect(save, &QPushButton::clicked, this, &BpwMapView::saveRequested);

    auto* tools = new QGroupBox(tr("Edit"));
    auto* grid = new QGridLayout(tools);
    grid->addWidget(new QLabel(tr("Selected rows:")), 0, 0);
    grid->addWidget(selectedBpw_, 0, 1);
    grid->addWidget(setSel, 0, 2);
    grid->addWidget(new QLabel(tr("Name pattern:")), 1, 0);
    grid->addWidget(pattern_, 1, 1, 1, 3);
    grid->addWidget(patternBpw_, 1, 4);
    grid->addWidget(setPat, 1, 5);
    grid->addWidget(new QLabel(tr("Target average:")), 2, 0);
    grid->addWidget(target_, 2, 1);
    grid->addWidget(new QLabel(tr("min")), 2, 2, Qt::AlignRight);
    grid->addWidget(minBpw_, 2, 3);
    grid->addWidget(new QLabel(tr("max")), 2, 4, Qt::AlignRight);
    grid->addWidget(maxBpw_, 2, 5);
    grid->addWidget(alloc, 2, 6);
    grid->addWidget(load, 0, 6);
    grid->addWidget(save, 1, 6);

    readout_ = new QLabel;
    readout_->setTextFormat(Qt::RichText);
    readout_->setWordWrap(true);
    readout_->setFrameShape(QFrame::StyledPanel);
    readout_->setMargin(6);

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(tools);
    leftLayout->addWidget(readout_);
    leftLayout->addWidget(filter);
    leftLayout->addWidget(table_, 1);

    plots_ = new SensitivityPlots(model_, SensitivityPlots::Layout::Compact);
    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(left);
    split->addWidget(plots_);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(model_, &BpwMapModel::mapChanged, this, &BpwMapView::updateReadout);
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { plots_->setSelectedRows(selectedRows()); });
    connect(plots_, &SensitivityPlots::layerClicked, this, [this](int row) { selectRows({row}); });
    updateReadout();
}

QString BpwMapView::readout() const { return readout_->text(); }

void BpwMapView::updateReadout() {
    const plan::BudgetSummary s = model_->summary();
    if (model_->rowCount() == 0) {
        readout_->setText(tr("No layers: open a model or load a sensitivity table."));
        return;
    }
    QString loss = s.layers_without_loss == s.layers
                       ? tr("unknown (no sensitivity measured)")
                       : QString::number(s.predicted_loss, 'g', 5) +
                             (s.layers_without_loss ? tr(" (%1 layers without a measurement)").arg(s.layers_without_loss) : QString());
    // An untied lm_head is listed (it is a linear) but GLQ leaves it as it is,
    // so the budget, like the allocator, counts the decoder layers' linears.
    const int outside = model_->rowCount() - s.layers;
    readout_->setText(tr("<b>Average %1 bpw</b> over %2 layers (%3 parameters) · "
                         "<b>%4</b> quantized (bf16: %5, %6×) · predicted proxy loss <b>%7</b>")
                          .arg(s.average_bpw, 0, 'f', 3)
                          .arg(s.layers)
                          .arg(format_count(s.parameters), format_bytes(s.stored_bytes), format_bytes(s.original_bytes_bf16))
                          .arg(s.stored_bytes ? static_cast<double>(s.original_bytes_bf16) / static_cast<double>(s.stored_bytes) : 0.0, 0, 'f', 2)
                          .arg(loss) +
                      (outside > 0 ? tr(" · %1 outside the decoder layers (not quantized)").arg(outside) : QString()));
}

QList<int> BpwMapView::selectedRows() const {
    QList<int> rows;
    for (const QModelIndex& i : table_->selectionModel()->selectedRows()) rows << proxy_->mapToSource(i).row();
    std::sort(rows.begin(), rows.end());
    return rows;
}

void BpwMapView::selectRows(const QList<int>& rows) {
    QItemSelection sel;
    QModelIndex first;
    for (int r : rows) {
        const QModelIndex i = proxy_->mapFromSource(model_->index(r, 0));
        if (!i.isValid()) continue;
        if (!first.isValid()) first = i;
        sel.select(i, i);
    }
    table_->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    if (first.isValid()) {
        table_->selectionModel()->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
        table_->scrollTo(first);
    }
}

void BpwMapView::setSelected() {
    const QList<int> rows = selectedRows();
    if (rows.isEmpty()) {
        emit message(tr("Select rows in the table first."));
        return;
    }
    model_->setBpw(rows, selectedBpw_->value());
}

void BpwMapView::setByPattern() {
    const QString p = pattern_->text().trimmed();
    if (p.isEmpty()) return;
    const int n = model_->setBpwByPattern(p, patternBpw_->value());
    emit message(n ? tr("%1: %2 layers set to %3 bpw").arg(p).arg(n).arg(patternBpw_->value())
                   : tr("%1 matches no layer name (patterns match the whole name; use * for any characters)").arg(p));
}

void BpwMapView::allocate() {
    try {
        model_->allocate(target_->value(), minBpw_->value(), maxBpw_->value());
        emit message(tr("Allocated for a %1 bpw target: average %2 bpw")
                         .arg(target_->value(), 0, 'f', 2)
                         .arg(model_->summary().average_bpw, 0, 'f', 3));
    } catch (const glq::Error& e) {
        emit errorOccurred(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
    }
}

void BpwMapView::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("bpwMap/target"), target_->value());
    s.setValue(QStringLiteral("bpwMap/min"), minBpw_->value());
    s.setValue(QStringLiteral("bpwMap/max"), maxBpw_->value());
    plots_->saveSettings(s, QStringLiteral("bpwMap/plots"));
}

void BpwMapView::loadSettings(QSettings& s) {
    // The spin boxes clamp what a hand-edited file puts out of range.
    target_->setValue(s.value(QStringLiteral("bpwMap/target"), target_->value()).toDouble());
    minBpw_->setValue(s.value(QStringLiteral("bpwMap/min"), minBpw_->value()).toInt());
    maxBpw_->setValue(s.value(QStringLiteral("bpwMap/max"), maxBpw_->value()).toInt());
    plots_->loadSettings(s, QStringLiteral("bpwMap/plots"));
}

} // namespace glq::ui
