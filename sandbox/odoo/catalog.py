"""The builtin models a CRM migration touches, per version, with the modules that install them.

Only models of installed modules exist: ``stock.*``, ``product.product`` and ``uom.uom`` need
the Inventory knob; anything else is "Object ... doesn't exist", as on a real database.
Version differences a loader notices are kept: ``res.partner.mobile`` is gone in 19
(UNCONFIRMED: removed in 18 or 19), ``stock.move.line.quantity`` (``qty_done`` before 17).
"""

from __future__ import annotations

from sandbox.odoo.fields import FieldSpec, ModelSpec, f, magic_fields

INVENTORY_MODULES = ("stock", "product", "uom")
PARTNER_TYPES = (("contact", "Contact"), ("invoice", "Invoice Address"), ("delivery", "Delivery Address"),
                 ("other", "Other Address"))
ADDRESS_FIELDS = ("street", "street2", "zip", "city", "state_id", "country_id")
PRIORITIES = (("0", "Low"), ("1", "Medium"), ("2", "High"), ("3", "Very High"))
MESSAGE_TYPES = (("email", "Incoming Email"), ("comment", "Comment"), ("email_outgoing", "Outgoing Email"),
                 ("notification", "System notification"), ("auto_comment", "Automated Targeted Notification"),
                 ("user_notification", "User Specific Notification"))
#: 17's product types (18 folds 'product' into 'consu' + is_storable: UNCONFIRMED which a loader sees first).
PRODUCT_TYPES = (("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product"))
TTYPE_SELECTION = tuple((t, t) for t in (
    "binary", "boolean", "char", "date", "datetime", "float", "html", "integer", "json", "many2many", "many2one",
    "many2one_reference", "monetary", "one2many", "properties", "properties_definition", "reference", "selection",
    "text"))


def _model(name: str, description: str, fields: list[FieldSpec], **kw: object) -> ModelSpec:
    spec = ModelSpec(name, description, **kw)  # type: ignore[arg-type]
    spec.fields = {fs.name: fs for fs in [*magic_fields(), *fields]}
    return spec


def _partner(version: int) -> ModelSpec:
    fields = [
        f("name", "char", "Name"),
        f("complete_name", "char", "Complete Name", readonly=True),
        f("is_company", "boolean", "Is a Company", default=False),
        f("company_type", "selection", "Company Type", store=False,
          selection=(("person", "Individual"), ("company", "Company"))),
        f("parent_id", "many2one", "Related Company", relation="res.partner"),
        f("child_ids", "one2many", "Contact", relation="res.partner", relation_field="parent_id"),
        f("type", "selection", "Address Type", selection=PARTNER_TYPES, default="contact"),
        f("commercial_partner_id", "many2one", "Commercial Entity", relation="res.partner", readonly=True),
        f("commercial_company_name", "char", "Company Name Entity", readonly=True),
        f("company_name", "char", "Company Name"),
        f("street", "char", "Street"), f("street2", "char", "Street2"), f("zip", "char", "Zip"),
        f("city", "char", "City"),
        f("state_id", "many2one", "State", relation="res.country.state"),
        f("country_id", "many2one", "Country", relation="res.country"),
        f("email", "char", "Email"), f("phone", "char", "Phone"),
        f("website", "char", "Website Link"), f("vat", "char", "Tax ID"), f("ref", "char", "Reference"),
        f("function", "char", "Job Position"), f("lang", "char", "Language", default="en_US"),
        f("comment", "html", "Notes"),
        f("user_id", "many2one", "Salesperson", relation="res.users"),
        f("category_id", "many2many", "Tags", relation="res.partner.category"),
        f("user_ids", "one2many", "Users", relation="res.users", relation_field="partner_id"),
        f("active", "boolean", "Active", default=True),
    ]
    if version < 19:
        fields.append(f("mobile", "char", "Mobile"))
    return _model("res.partner", "Contact", fields, order="complete_name ASC, id DESC", mail_thread=True)


def _lead() -> ModelSpec:
    return _model("crm.lead", "Lead/Opportunity", [
        f("name", "char", "Opportunity", required=True),
        f("type", "selection", "Type", required=True, selection=(("lead", "Lead"), ("opportunity", "Opportunity"))),
        f("stage_id", "many2one", "Stage", relation="crm.stage"),
        f("priority", "selection", "Priority", selection=PRIORITIES, default="0"),
        f("probability", "float", "Probability", default=10.0),
        f("date_deadline", "date", "Expected Closing"),
        f("date_closed", "datetime", "Closed Date", readonly=True),
        f("user_id", "many2one", "Salesperson", relation="res.users"),
        f("team_id", "many2one", "Sales Team", relation="crm.team"),
        f("partner_id", "many2one", "Customer", relation="res.partner"),
        f("partner_name", "char", "Company Name"), f("contact_name", "char", "Contact Name"),
        f("email_from", "char", "Email"), f("phone", "char", "Phone"),
        f("expected_revenue", "monetary", "Expected Revenue"),
        f("description", "html", "Notes"),
        f("tag_ids", "many2many", "Tags", relation="crm.tag"),
        f("active", "boolean", "Active", default=True),
        f("message_ids", "one2many", "Messages", relation="mail.message", relation_field="res_id", store=False),
    ], order="priority desc, id desc", module="crm", mail_thread=True)


def _users() -> ModelSpec:
    return _model("res.users", "User", [
        f("login", "char", "Login", required=True),
        f("name", "char", "Name"),
        f("email", "char", "Email"),
        f("partner_id", "many2one", "Related Partner", relation="res.partner", required=True),
        f("active", "boolean", "Active", default=True),
        f("share", "boolean", "Share User", readonly=True),
        f("password", "char", "Password"),
        f("tz", "char", "Timezone", default="Europe/Brussels"),
        f("lang", "char", "Language", default="en_US"),
    ], order="name, login", rec_name="name", mail_thread=True)


def _technical() -> list[ModelSpec]:
    return [
        _model("ir.model", "Models", [
            f("name", "char", "Model Description", required=True),
            f("model", "char", "Model", required=True),
            f("state", "selection", "Type", selection=(("manual", "Custom Object"), ("base", "Base Object")),
              default="manual"),
            f("info", "text", "Information"),
            f("modules", "char", "In Apps", readonly=True),
            f("transient", "boolean", "Transient Model"),
            f("is_mail_thread", "boolean", "Has Mail Thread"),
            f("field_id", "one2many", "Fields", relation="ir.model.fields", relation_field="model_id"),
        ], order="model", rec_name="name"),
        _model("ir.model.fields", "Fields", [
            f("name", "char", "Field Name", required=True),
            f("complete_name", "char", "Complete Name", readonly=True),
            f("model", "char", "Model Name", required=True),
            f("model_id", "many2one", "Model", relation="ir.model", required=True),
            f("field_description", "char", "Field Label", required=True),
            f("help", "text", "Field Help"),
            f("ttype", "selection", "Field Type", required=True, selection=TTYPE_SELECTION),
            f("relation", "char", "Related Model"),
            f("relation_field", "char", "Relation Field"),
            f("selection_ids", "one2many", "Selection Options", relation="ir.model.fields.selection",
              relation_field="field_id"),
            f("selection", "char", "Selection Options (Deprecated)", store=False),
            f("required", "boolean", "Required"), f("readonly", "boolean", "Readonly"),
            f("store", "boolean", "Stored", default=True), f("index", "boolean", "Indexed"),
            f("copied", "boolean", "Copied"),
            f("on_delete", "selection", "On Delete", default="set null",
              selection=(("cascade", "Cascade"), ("set null", "Set NULL"), ("restrict", "Restrict"))),
            f("state", "selection", "Type", selection=(("manual", "Custom Field"), ("base", "Base Field")),
              default="manual"),
        ], order="name", rec_name="field_description"),
        _model("ir.model.fields.selection", "Fields Selection", [
            f("field_id", "many2one", "Field", relation="ir.model.fields", required=True),
            f("value", "char", "Value", required=True), f("name", "char", "Name", required=True),
            f("sequence", "integer", "Sequence", default=1000),
        ], order="sequence, id"),
        _model("ir.model.data", "Model Data", [
            f("name", "char", "External Identifier", required=True),
            f("complete_name", "char", "Complete ID", readonly=True),
            f("module", "char", "Module", required=True),
            f("model", "char", "Model Name", required=True),
            f("res_id", "many2one_reference", "Record ID"),
            f("noupdate", "boolean", "Non Updatable", default=False),
        ], order="module, model, name", rec_name="complete_name"),
        _model("ir.attachment", "Attachment", [
            f("name", "char", "Name", required=True),
            f("description", "text", "Description"),
            f("res_model", "char", "Resource Model"), f("res_id", "many2one_reference", "Resource ID"),
            f("res_name", "char", "Resource Name", readonly=True),
            f("type", "selection", "Type", selection=(("url", "URL"), ("binary", "File")), default="binary"),
            f("url", "char", "Url"), f("public", "boolean", "Is public document"),
            f("datas", "binary", "File Content (base64)"),
            f("mimetype", "char", "Mime Type"), f("file_size", "integer", "File Size", readonly=True),
            f("checksum", "char", "Checksum/SHA1", readonly=True),
        ], order="id desc"),
        _model("mail.message", "Message", [
            f("subject", "char", "Subject"), f("body", "html", "Contents", default=""),
            f("model", "char", "Related Document Model"), f("res_id", "many2one_reference", "Related Document ID"),
            f("record_name", "char", "Message Record Name", readonly=True),
            f("message_type", "selection", "Type", selection=MESSAGE_TYPES, default="email", required=True),
            f("subtype_id", "many2one", "Subtype", relation="mail.message.subtype"),
            f("author_id", "many2one", "Author", relation="res.partner"),
            f("email_from", "char", "From"), f("date", "datetime", "Date"),
            f("attachment_ids", "many2many", "Attachments", relation="ir.attachment"),
            f("is_internal", "boolean", "Employee Only"),
        ], order="id desc", rec_name="record_name", module="mail"),
        _model("mail.message.subtype", "Message subtypes", [
            f("name", "char", "Message Type", required=True), f("internal", "boolean", "Internal Only"),
            f("description", "text", "Description"), f("default", "boolean", "Default", default=True),
        ], order="id", module="mail"),
    ]


def _crm_extra() -> list[ModelSpec]:
    return [
        _model("crm.stage", "CRM Stages", [
            f("name", "char", "Stage Name", required=True), f("sequence", "integer", "Sequence", default=1),
            f("is_won", "boolean", "Is Won Stage?"), f("fold", "boolean", "Folded in Pipeline"),
            f("team_id", "many2one", "Sales Team", relation="crm.team"),
        ], order="sequence, name, id", module="crm"),
        _model("crm.team", "Sales Team", [
            f("name", "char", "Sales Team", required=True), f("active", "boolean", "Active", default=True),
        ], order="name, id", module="sales_team"),
        _model("crm.tag", "CRM Tag", [f("name", "char", "Tag Name", required=True)], module="sales_team"),
        _model("res.country", "Country", [
            f("name", "char", "Country Name", required=True), f("code", "char", "Country Code"),
            f("state_ids", "one2many", "States", relation="res.country.state", relation_field="country_id"),
        ], order="name"),
        _model("res.country.state", "Country state", [
            f("country_id", "many2one", "Country", relation="res.country", required=True),
            f("name", "char", "State Name", required=True), f("code", "char", "State Code", required=True),
        ], order="code"),
        _model("res.partner.category", "Partner Tags", [
            f("name", "char", "Name", required=True), f("active", "boolean", "Active", default=True),
        ], order="name"),
    ]


def _inventory() -> list[ModelSpec]:
    states = (("draft", "Draft"), ("waiting", "Waiting Another Operation"), ("confirmed", "Waiting"),
              ("assigned", "Ready"), ("done", "Done"), ("cancel", "Cancelled"))
    return [
        _model("uom.uom", "Product Unit of Measure", [f("name", "char", "Unit", required=True)], module="uom",
               order="name"),
        _model("product.product", "Product Variant", [
            f("name", "char", "Name", required=True), f("default_code", "char", "Internal Reference"),
            f("type", "selection", "Product Type", default="consu", selection=PRODUCT_TYPES),
            f("list_price", "float", "Sales Price", default=1.0), f("standard_price", "float", "Cost"),
            f("description", "text", "Description"),
            f("uom_id", "many2one", "Unit", relation="uom.uom", required=True),
            f("active", "boolean", "Active", default=True),
        ], module="product", order="default_code, name, id"),
        _model("stock.location", "Inventory Locations", [
            f("name", "char", "Location Name", required=True), f("complete_name", "char", "Full Location Name"),
            f("usage", "selection", "Location Type", default="internal", selection=(
                ("supplier", "Vendor"), ("view", "Virtual"), ("internal", "Internal"), ("customer", "Customer"),
                ("inventory", "Inventory Loss"), ("production", "Production"), ("transit", "Transit"))),
            f("active", "boolean", "Active", default=True),
        ], module="stock", order="complete_name, id", rec_name="complete_name"),
        _model("stock.picking.type", "Picking Type", [
            f("name", "char", "Operation Type", required=True), f("sequence_code", "char", "Sequence Prefix"),
            f("code", "selection", "Type of Operation", selection=(
                ("incoming", "Receipt"), ("outgoing", "Delivery"), ("internal", "Internal Transfer"))),
            f("default_location_src_id", "many2one", "Source Location", relation="stock.location"),
            f("default_location_dest_id", "many2one", "Destination Location", relation="stock.location"),
        ], module="stock", order="id"),
        _model("stock.picking", "Transfer", [
            f("name", "char", "Reference", default="/"), f("origin", "char", "Source Document"),
            f("picking_type_id", "many2one", "Operation Type", relation="stock.picking.type", required=True),
            f("location_id", "many2one", "Source Location", relation="stock.location"),
            f("location_dest_id", "many2one", "Destination Location", relation="stock.location"),
            f("partner_id", "many2one", "Contact", relation="res.partner"),
            f("scheduled_date", "datetime", "Scheduled Date"),
            f("state", "selection", "Status", selection=states, default="draft", readonly=True),
            f("move_ids", "one2many", "Stock Moves", relation="stock.move", relation_field="picking_id"),
            f("move_line_ids", "one2many", "Operations", relation="stock.move.line", relation_field="picking_id"),
            f("note", "html", "Notes"),
        ], module="stock", order="scheduled_date asc, id desc", mail_thread=True),
        _model("stock.move", "Stock Move", [
            f("name", "char", "Description", required=True),
            f("origin", "char", "Source Document"),
            f("picking_id", "many2one", "Transfer", relation="stock.picking"),
            f("product_id", "many2one", "Product", relation="product.product", required=True),
            f("product_uom_qty", "float", "Demand", default=0.0), f("quantity", "float", "Quantity"),
            f("product_uom", "many2one", "UoM", relation="uom.uom", required=True),
            f("location_id", "many2one", "Source Location", relation="stock.location", required=True),
            f("location_dest_id", "many2one", "Destination Location", relation="stock.location", required=True),
            f("state", "selection", "Status", selection=states, default="draft", readonly=True),
            f("date", "datetime", "Date Scheduled"),
            f("move_line_ids", "one2many", "Move Lines", relation="stock.move.line", relation_field="move_id"),
        ], module="stock", order="sequence, id"),
        _model("stock.move.line", "Product Moves (Stock Move Line)", [
            f("picking_id", "many2one", "Transfer", relation="stock.picking"),
            f("move_id", "many2one", "Stock Operation", relation="stock.move"),
            f("product_id", "many2one", "Product", relation="product.product", required=True),
            f("product_uom_id", "many2one", "Unit", relation="uom.uom", required=True),
            f("state", "selection", "Status", selection=states, readonly=True),
            f("quantity", "float", "Quantity"),
            f("location_id", "many2one", "From", relation="stock.location", required=True),
            f("location_dest_id", "many2one", "To", relation="stock.location", required=True),
            f("lot_name", "char", "Lot/Serial Number Name"),
            f("date", "datetime", "Date"),
        ], module="stock", order="id", rec_name="product_id"),
    ]


def builtin_models(version: int) -> dict[str, ModelSpec]:
    """Every builtin model of ``version`` (installed or not), ids numbered in a fixed order."""
    specs = [_partner(version), _users(), _lead(), *_crm_extra(), *_technical(), *_inventory()]
    out: dict[str, ModelSpec] = {}
    field_id = 0
    for model_id, spec in enumerate(specs, start=1):
        spec.model_id = model_id
        numbered = {}
        for name, fs in spec.fields.items():
            field_id += 1
            numbered[name] = FieldSpec(**{**fs.__dict__, "field_id": field_id})
        spec.fields = numbered
        out[spec.name] = spec
    return out
