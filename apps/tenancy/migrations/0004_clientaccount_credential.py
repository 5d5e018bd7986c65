# Client accounts reach CallRail through a credential (issue 20). Step 1 of 3: the relations, nullable;
# credentials.0002 moves every account's key into a credential; 0005 drops the old columns.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('credentials', '0001_initial'),
        ('tenancy', '0003_data_lifecycle'),
    ]

    operations = [
        migrations.AddField(
            model_name='clientaccount',
            name='credential',
            field=models.ForeignKey(help_text='The key (and destination) the portal reaches this account with.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='client_accounts', to='credentials.credential'),
        ),
        migrations.AddField(
            model_name='clientaccount',
            name='gateway_connection',
            field=models.ForeignKey(blank=True, help_text="Gateway credentials: the connection that reaches this account (empty: the key's default one).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='client_accounts', to='credentials.gatewayconnection'),
        ),
    ]
