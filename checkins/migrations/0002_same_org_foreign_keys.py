# On PostgreSQL the database itself refuses a row that links two organisations.
from django.db import migrations

from okrapp.db import AddTenantForeignKey


class Migration(migrations.Migration):
    dependencies = [("checkins", "0001_initial"), ("cycles", "0002_same_org_foreign_keys")]

    operations = [
        AddTenantForeignKey("checkin", "key_result"),
        AddTenantForeignKey("checkin", "recorded_by"),
        AddTenantForeignKey("checkin", "owner"),
        AddTenantForeignKey("acknowledgement", "checkin"),
        AddTenantForeignKey("acknowledgement", "by"),
        AddTenantForeignKey("comment", "author"),
        AddTenantForeignKey("comment", "key_result"),
        AddTenantForeignKey("comment", "objective"),
        AddTenantForeignKey("comment", "checkin"),
        AddTenantForeignKey("mention", "comment"),
        AddTenantForeignKey("mention", "membership"),
        AddTenantForeignKey("kudos", "giver"),
        AddTenantForeignKey("kudos", "receiver"),
        AddTenantForeignKey("kudos", "key_result"),
        AddTenantForeignKey("kudos", "objective"),
        AddTenantForeignKey("oneonone", "manager"),
        AddTenantForeignKey("oneonone", "report"),
        AddTenantForeignKey("meeting", "one_on_one"),
        AddTenantForeignKey("agendaitem", "meeting"),
        AddTenantForeignKey("agendaitem", "checkin"),
        AddTenantForeignKey("agendaitem", "action_item"),
        AddTenantForeignKey("actionitem", "meeting"),
        AddTenantForeignKey("actionitem", "owner"),
    ]
